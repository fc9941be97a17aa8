/** Constant tensors and the torchvision-style initialisers. */
import type { DType, Tensor, TensorData } from './ir.ts';
import { numel } from './ir.ts';
import type { Rng } from '../util/random.ts';

export function allocate(dtype: DType, n: number): TensorData {
  switch (dtype) {
    case 'float32': return new Float32Array(n);
    case 'int64': return new BigInt64Array(n);
    case 'int32': return new Int32Array(n);
    case 'bool': return new Uint8Array(n);
  }
}

export function tensorFromNumbers(values: readonly number[], dtype: DType, dims: readonly number[]): Tensor {
  if (values.length !== numel(dims)) throw new Error(`${values.length} values for dims [${dims.join(',')}]`);
  const data = allocate(dtype, values.length);
  values.forEach((v, i) => {
    if (data instanceof BigInt64Array) data[i] = BigInt(v);
    else data[i] = v;
  });
  return { dtype, dims: [...dims], data };
}

export function filled(dims: readonly number[], value: number): Tensor {
  return { dtype: 'float32', dims: [...dims], data: new Float32Array(numel(dims)).fill(value) };
}

/** Kaiming normal with mode fan_out and ReLU gain, as torchvision initialises every conv. */
export function kaimingNormalFanOut(dims: readonly number[], rng: Rng): Tensor {
  const fanOut = dims[0]! * numel(dims.slice(2));
  const std = Math.sqrt(2 / fanOut);
  const data = new Float32Array(numel(dims));
  for (let i = 0; i < data.length; i++) data[i] = rng.normal() * std;
  return { dtype: 'float32', dims: [...dims], data };
}

/**
 * PyTorch's default for Linear and Conv layers it does not re-initialise: kaiming_uniform with
 * a = sqrt(5) for the weight, which is U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and the same bound
 * for the bias.
 */
export function uniformFanIn(dims: readonly number[], fanIn: number, rng: Rng): Tensor {
  const bound = 1 / Math.sqrt(fanIn);
  const data = new Float32Array(numel(dims));
  for (let i = 0; i < data.length; i++) data[i] = (rng.next() * 2 - 1) * bound;
  return { dtype: 'float32', dims: [...dims], data };
}
