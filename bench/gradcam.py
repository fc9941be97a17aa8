#!/usr/bin/python3
"""Grad-CAM by PyTorch autograd: the reference that bench/gradcam.ts compares our graphs' `cam`
output with. For each network it loads the state_dict and the images that gradcam.ts wrote into
bench/pytorch_train.py's plain torch.nn networks (our state_dict names, both stems), in eval mode
and float64, takes each layer's output with a forward hook, and writes, per layer,

    cam = relu(sum_k alpha_k A_k),  alpha_k = mean over h, w of d(logit of the predicted class) / dA_k

(Selvaraju et al., ICCV 2017) and the logits. Needs Debian's python3-torch, so run it with the
system interpreter; gradcam.ts runs it:

    /usr/bin/python3 bench/gradcam.py DIR net [net ...]

reads DIR/<net>.safetensors (weights) and DIR/<net>.input.safetensors (images; the layers in its
metadata), writes DIR/<net>.torch.safetensors.
"""
import json
import os
import struct
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pytorch_train import SPECS, ResNet  # noqa: E402

NUMPY = {'F32': np.float32, 'F64': np.float64, 'I64': np.int64}
NAMES = {np.dtype(np.float32): 'F32', np.dtype(np.float64): 'F64', np.dtype(np.int64): 'I64'}


def load_safetensors(path):
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


def module_of(model, layer):
    """The module whose output is the layer: the stem ends in maxpool (nn.Identity in the CIFAR stem)."""
    if layer == 'stem':
        return model.maxpool
    stage, _, block = layer.partition('.')
    module = getattr(model, stage)
    return module[int(block)] if block else module


def gradcam(model, images, layer):
    seen = {}
    hook = module_of(model, layer).register_forward_hook(lambda _m, _i, out: seen.__setitem__('a', out))
    try:
        logits = model(images)
    finally:
        hook.remove()
    a = seen['a']
    chosen = logits.argmax(1)
    score = logits.gather(1, chosen[:, None]).sum()
    (grad,) = torch.autograd.grad(score, a)
    alpha = grad.mean((2, 3), keepdim=True)
    return torch.relu((alpha * a).sum(1)), logits


def main():
    out, nets = sys.argv[1], sys.argv[2:]
    torch.set_num_threads(2)
    for net in nets:
        state, _ = load_safetensors(os.path.join(out, f'{net}.safetensors'))
        inputs, meta = load_safetensors(os.path.join(out, f'{net}.input.safetensors'))
        model = ResNet(*SPECS[net], classes=state['fc.weight'].shape[0])
        missing, unexpected = model.load_state_dict(state, strict=False)
        missing = [k for k in missing if not k.endswith('num_batches_tracked')]
        if missing or unexpected:
            sys.exit(f'{net}: state_dict does not fit: missing {missing[:3]}, unexpected {unexpected[:3]}')
        model = model.double().eval()
        images = inputs['images'].double()
        results = {}
        for layer in json.loads(meta['layers']):
            cam, logits = gradcam(model, images, layer)
            # float32 on disk: the float64 reference rounded once, far below the differences measured.
            results[f'cam.{layer}'] = cam.float()
        results['logits'] = logits.float()
        save_safetensors(os.path.join(out, f'{net}.torch.safetensors'), results)
        print(f'{net}: {", ".join(json.loads(meta["layers"]))}', flush=True)


if __name__ == '__main__':
    main()
