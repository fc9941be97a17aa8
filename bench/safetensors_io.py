"""safetensors read and written by hand for the Python cross-checks in bench/ (the safetensors
package is not in Debian 12): a little-endian u64 header size, the JSON header, then the data."""
import json
import struct

import numpy as np
import torch

NUMPY = {'F32': np.float32, 'F64': np.float64, 'I64': np.int64}
NAMES = {np.dtype(np.float32): 'F32', np.dtype(np.float64): 'F64', np.dtype(np.int64): 'I64'}


def load_safetensors(path):
    """The file's tensors by name, and its __metadata__ ({} without one)."""
    with open(path, 'rb') as f:
        raw = f.read()
    (size,) = struct.unpack('<Q', raw[:8])
    header = json.loads(raw[8:8 + size])
    meta = header.pop('__metadata__', {})
    body = raw[8 + size:]
    tensors = {}
    for name, h in header.items():
        start, end = h['data_offsets']
        tensors[name] = torch.from_numpy(np.frombuffer(body[start:end], dtype=NUMPY[h['dtype']]).reshape(h['shape']).copy())
    return tensors, meta


def save_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        data = t.detach().contiguous().cpu().numpy()
        header[name] = {'dtype': NAMES[data.dtype], 'shape': list(data.shape), 'data_offsets': [offset, offset + data.nbytes]}
        blobs.append(data.tobytes())
        offset += data.nbytes
    head = json.dumps(header).encode()
    head += b' ' * (-len(head) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(head)))
        f.write(head)
        for blob in blobs:
            f.write(blob)
