import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decodeSafetensors, encodeSafetensors } from '../../src/formats/safetensors.ts';
import type { Tensor } from '../../src/graph/ir.ts';

describe('safetensors', () => {
  const tensors = new Map<string, Tensor>([
    ['conv1.weight', { dtype: 'float32', dims: [2, 1, 1, 1], data: Float32Array.from([1.5, -2]) }],
    ['bn1.num_batches_tracked', { dtype: 'int64', dims: [], data: BigInt64Array.from([7n]) }],
  ]);

  it('writes the documented layout: u64 header length, JSON header, aligned little-endian data', () => {
    const bytes = encodeSafetensors(tensors, { format: 'pt' });
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    assert.equal((8 + n) % 8, 0);
    const header = JSON.parse(Buffer.from(bytes.subarray(8, 8 + n)).toString());
    assert.deepEqual(header['conv1.weight'], { dtype: 'F32', shape: [2, 1, 1, 1], data_offsets: [0, 8] });
    assert.deepEqual(header['bn1.num_batches_tracked'], { dtype: 'I64', shape: [], data_offsets: [8, 16] });
    assert.deepEqual(header['__metadata__'], { format: 'pt' });
    assert.equal(new DataView(bytes.buffer).getFloat32(8 + n, true), 1.5);
  });

  it('reads back what it wrote', () => {
    const { tensors: back, metadata } = decodeSafetensors(encodeSafetensors(tensors, { a: 'b' }));
    assert.deepEqual(metadata, { a: 'b' });
    assert.deepEqual([...(back.get('conv1.weight')!.data as Float32Array)], [1.5, -2]);
    assert.deepEqual([...(back.get('bn1.num_batches_tracked')!.data as BigInt64Array)], [7n]);
  });

  it('reads half, bfloat16 and double precision weights as float32', () => {
    // F16 1.5 = 0x3e00, -2 = 0xc000; BF16 1.5 = 0x3fc0, -0.25 = 0xbe80; F64 0.1.
    const data = Buffer.alloc(2 * 2 + 2 * 2 + 8);
    data.writeUInt16LE(0x3e00, 0); data.writeUInt16LE(0xc000, 2);
    data.writeUInt16LE(0x3fc0, 4); data.writeUInt16LE(0xbe80, 6);
    data.writeDoubleLE(0.1, 8);
    const header = Buffer.from(JSON.stringify({
      h: { dtype: 'F16', shape: [2], data_offsets: [0, 4] }, b: { dtype: 'BF16', shape: [2], data_offsets: [4, 8] }, d: { dtype: 'F64', shape: [1], data_offsets: [8, 16] },
    }));
    const length = Buffer.alloc(8);
    length.writeBigUInt64LE(BigInt(header.length));
    const { tensors: read } = decodeSafetensors(Buffer.concat([length, header, data]));
    assert.deepEqual([...read.get('h')!.data], [1.5, -2]);
    assert.deepEqual([...read.get('b')!.data], [1.5, -0.25]);
    assert.deepEqual([...read.get('d')!.data], [Math.fround(0.1)]);
    assert.equal(read.get('d')!.dtype, 'float32');
  });

  it('rejects a broken file with one line naming it', () => {
    assert.throws(() => decodeSafetensors(new Uint8Array(4), 'x.safetensors'), /^UserError: x.safetensors: not a valid safetensors file \(shorter than its 8-byte header length\)$/);
    const bytes = encodeSafetensors(tensors);
    assert.throws(() => decodeSafetensors(bytes.subarray(0, bytes.length - 4), 'y.safetensors'), /y.safetensors: not a valid safetensors file \(tensor .* has inconsistent offsets\)/);
  });
});
