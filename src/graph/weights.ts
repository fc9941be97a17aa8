/** Putting trained tensors (a checkpoint) into a built graph. */
import type { Graph, Tensor } from './ir.ts';
import { UserError } from '../errors.ts';

/**
 * The graph with trained weights: every parameter and buffer initializer (under `prefix`, which
 * the checkpoint's names lack, e.g. `fold2.` in an ensemble) takes the tensor of the same name from
 * `state`, which must have its type and shape. Constants stay. `source` names the checkpoint in errors.
 */
export function withWeights(graph: Graph, state: ReadonlyMap<string, Tensor>, source: string, prefix = ''): Graph {
  return {
    ...graph,
    initializers: graph.initializers.map((init) => {
      if (init.kind === 'constant' || !init.value.name.startsWith(prefix)) return init;
      const name = init.value.name.slice(prefix.length);
      const t = state.get(name);
      if (!t) throw new UserError(`${source}: no tensor ${name}; the checkpoint does not belong to this ${graph.name} model`);
      const want = init.tensor.dims;
      if (t.dtype !== init.tensor.dtype || t.dims.length !== want.length || t.dims.some((d, i) => d !== want[i])) {
        throw new UserError(`${source}: tensor ${name} is ${t.dtype}[${t.dims.join(',')}], expected ${init.tensor.dtype}[${want.join(',')}]`);
      }
      return { ...init, tensor: t };
    }),
  };
}
