// Weights as after training, for inference graphs: the seeded ones with BatchNorm running
// statistics and affine terms drawn away from 0 and 1, so that eval-mode BatchNorm (and its
// folding) does something a test can see.
import type { Graph, Tensor } from '../../src/graph/ir.ts';
import { createRng } from '../../src/util/random.ts';

export function trainedLike(graph: Graph, seed: number): Map<string, Tensor> {
  const rng = createRng(seed);
  return new Map(graph.initializers.filter((i) => i.kind !== 'constant').map((i) => {
    const d = Float32Array.from(i.tensor.data as Float32Array);
    if (/running_var$/.test(i.value.name)) d.forEach((_, k) => { d[k] = 0.5 + rng.next(); });
    else if (/running_mean$|bn\d\.bias$|downsample\.1\.bias$/.test(i.value.name)) d.forEach((_, k) => { d[k] = rng.normal() * 0.3; });
    else if (/bn\d\.weight$|downsample\.1\.weight$/.test(i.value.name)) d.forEach((_, k) => { d[k] = 0.5 + rng.next(); });
    return [i.value.name, { ...i.tensor, data: d }];
  }));
}
