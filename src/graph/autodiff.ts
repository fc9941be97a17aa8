/**
 * Reverse-mode autodiff over the graph IR: one walker that knows no op. It visits, in reverse
 * build order, only the nodes on a path from a wanted value to the loss, asks the gradient
 * table for each, and sums gradients where a value fans out (the residual skip) with Add.
 */
import type { Builder } from './builder.ts';
import type { Node, Value } from './ir.ts';
import { GRADIENTS } from './gradients.ts';
import type { GradContext } from './gradients.ts';
import { DEFAULT_CONV_GRAD } from './conv-grad.ts';
import { UserError } from '../errors.ts';

const differentiable = (v: Value | null): v is Value => v !== null && v.dtype === 'float32';

/** Nodes between `wrt` and `loss`: descendants of a wanted value that the loss depends on. */
function pathNodes(nodes: readonly Node[], loss: Value, wrt: readonly Value[]): Set<Node> {
  const fromWrt = new Set<Value>(wrt);
  const forward = new Set<Node>();
  for (const n of nodes) {
    if (n.inputs.some((v) => v && fromWrt.has(v))) {
      forward.add(n);
      for (const o of n.outputs) fromWrt.add(o);
    }
  }
  const toLoss = new Set<Value>([loss]);
  const path = new Set<Node>();
  for (let i = nodes.length - 1; i >= 0; i--) {
    const n = nodes[i]!;
    if (!forward.has(n) || !n.outputs.some((o) => toLoss.has(o))) continue;
    path.add(n);
    for (const v of n.inputs) if (v) toLoss.add(v);
  }
  return path;
}

/**
 * Appends the backward pass of `loss` (a scalar) to the builder's graph and returns the
 * gradient of each value in `wrt`, in order. A value the loss does not depend on gets null.
 */
export function gradients(b: Builder, nodes: readonly Node[], loss: Value, wrt: readonly Value[], ctx: GradContext = { conv: DEFAULT_CONV_GRAD }): (Value | null)[] {
  const path = pathNodes(nodes, loss, wrt);
  const pending = new Map<Value, Value[]>([[loss, [b.constant(1)]]]);
  const wanted = new Set<Value>(wrt);

  // A value's gradient is final once every node reading it has been visited: sum it then.
  const total = (v: Value): Value | null => {
    const parts = pending.get(v);
    if (!parts || parts.length === 0) return null;
    let sum = parts[0]!;
    for (let i = 1; i < parts.length; i++) sum = b.scope(`${v.name}.grad`, () => b.op('Add', [sum, parts[i]!], {}, { name: 'accumulate' }));
    pending.set(v, [sum]);
    return sum;
  };

  for (let i = nodes.length - 1; i >= 0; i--) {
    const node = nodes[i]!;
    if (!path.has(node)) continue;
    const dY = node.outputs.map(total);
    if (dY.every((g) => g === null)) continue; // only non-float outputs (a mask, indices) lead on
    const rule = GRADIENTS[node.op];
    if (!rule) throw new UserError(`node ${node.name} (${node.op}): no gradient rule`);
    const needs = node.inputs.map((v) => differentiable(v) && (wanted.has(v) || (v.producer !== null && path.has(v.producer))));
    const grads = b.scope(`${node.name}.grad`, () => rule(b, node, dY, needs, ctx));
    if (grads.length !== node.inputs.length) {
      throw new Error(`gradient rule for ${node.op} returned ${grads.length} gradients for ${node.inputs.length} inputs`);
    }
    grads.forEach((g, j) => {
      const v = node.inputs[j]!;
      if (!needs[j] || g === null) return;
      if (g.shape.length !== v.shape.length || g.shape.some((d, k) => typeof d === 'number' && typeof v.shape[k] === 'number' && d !== v.shape[k])) {
        throw new Error(`gradient rule for ${node.op} (${node.name}) gave ${v.name} a gradient of shape [${g.shape}] for [${v.shape}]`);
      }
      pending.set(v, [...(pending.get(v) ?? []), g]);
    });
  }
  return wrt.map(total);
}
