/**
 * Reverse-mode autodiff over the graph IR: one walker that knows no op. It visits, in reverse
 * build order, only the nodes on a path from a wanted value to the loss, asks the gradient
 * table for each, and sums gradients where a value fans out (the residual skip) with Add. A
 * gradient a rule marks as broadcast (gradients.ts) joins such a sum as it is. A value made by
 * `b.stopGradient` is a constant to it: no path runs through it, so the nodes that made it (an
 * ArgMax, a OneHot) need no rule.
 */
import type { Builder, Region } from './builder.ts';
import type { Dim, Node, Value } from './ir.ts';
import { GRADIENTS, expandTo } from './gradients.ts';
import type { Grad, GradContext } from './gradients.ts';
import { DEFAULT_CONV_GRAD } from './conv-grad.ts';
import { UserError } from '../errors.ts';

const differentiable = (v: Value | null): v is Value => v !== null && v.dtype === 'float32';

/** Nodes between `wrt` and `loss`: descendants of a wanted value that the loss depends on, not through a stop. */
function pathNodes(nodes: readonly Node[], loss: Value, wrt: readonly Value[], stops: ReadonlySet<Value>): Set<Node> {
  const fromWrt = new Set<Value>(wrt);
  const forward = new Set<Node>();
  for (const n of nodes) {
    if (n.outputs.every((o) => stops.has(o))) continue;
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
export function gradients(b: Builder, loss: Value, wrt: readonly Value[], ctx: GradContext = { conv: DEFAULT_CONV_GRAD }): (Value | null)[] {
  const nodes = b.nodesSoFar();
  const path = pathNodes(nodes, loss, wrt, b.stops());
  const regionOf = new Map<Node, Region>();
  for (const r of b.regions()) for (const n of r.nodes) regionOf.set(n, r);
  const done = new Set<Region>();
  // Each part of a value's gradient, with the scope of the rule that gave it; a broadcast part
  // is smaller than the value and stands for its expansion.
  interface Part { readonly g: Value; readonly broadcast: boolean; readonly scope: string }
  const pending = new Map<Value, Part[]>([[loss, [{ g: b.constant(1), broadcast: false, scope: '' }]]]);
  const wanted = new Set<Value>(wrt);

  // A value's gradient is final once every node reading it has been visited: sum it then. Full-size
  // parts come first, so broadcast parts join the sum as they are (Add broadcasts); a broadcast
  // part is expanded, in its rule's scope, only when no full-size part comes before it.
  const total = (v: Value): Value | null => {
    const parts = pending.get(v);
    if (!parts || parts.length === 0) return null;
    const ordered = [...parts.filter((p) => !p.broadcast), ...parts.filter((p) => p.broadcast)];
    const first = ordered[0]!;
    let sum = first.broadcast ? b.scope(first.scope, () => expandTo(b, first.g, v)) : first.g;
    for (const part of ordered.slice(1)) {
      const addend = part.g;
      sum = b.scope(`${v.name}.grad`, () => b.op('Add', [sum, addend], {}, { name: 'accumulate' }));
    }
    pending.set(v, [{ g: sum, broadcast: false, scope: '' }]);
    return sum;
  };

  const needed = (v: Value | null): boolean =>
    differentiable(v) && (wanted.has(v) || (v.producer !== null && path.has(v.producer)));
  const accumulate = (v: Value, grad: Grad, where: string, scope: string): void => {
    if (grad === null) return;
    const [g, broadcast] = 'broadcast' in grad ? [grad.broadcast, true] : [grad, false];
    const fits = (d: Dim, k: number): boolean => {
      const t = v.shape[k];
      return typeof d !== 'number' || typeof t !== 'number' || d === t || (broadcast && d === 1);
    };
    if (g.shape.length !== v.shape.length || !g.shape.every(fits)) {
      throw new Error(`${where} gave ${v.name} a ${broadcast ? 'broadcast ' : ''}gradient of shape [${g.shape}] for [${v.shape}]`);
    }
    pending.set(v, [...(pending.get(v) ?? []), { g, broadcast, scope }]);
  };

  for (let i = nodes.length - 1; i >= 0; i--) {
    const node = nodes[i]!;
    if (!path.has(node)) continue;
    const region = regionOf.get(node);
    if (region) {
      // Met at its last node, after every reader of its outputs: one closed-form step for all of it.
      if (done.has(region)) continue;
      done.add(region);
      for (const inner of region.nodes) {
        for (const v of inner.outputs) {
          if (!region.outputs.includes(v) && pending.get(v)?.length) throw new Error(`${region.name}: ${v.name} is read outside its region`);
        }
      }
      const dY = region.outputs.map(total);
      if (dY.every((g) => g === null)) continue;
      const needs = region.inputs.map(needed);
      const scope = `${region.name}.grad`;
      const grads = b.scope(scope, () => region.grad(b, dY, needs));
      if (grads.length !== region.inputs.length) throw new Error(`${region.name}: closed-form backward returned ${grads.length} gradients for ${region.inputs.length} inputs`);
      grads.forEach((g, j) => { if (needs[j]) accumulate(region.inputs[j]!, g, `backward of ${region.name}`, scope); });
      continue;
    }
    const dY = node.outputs.map(total);
    if (dY.every((g) => g === null)) continue; // only non-float outputs (a mask, indices) lead on
    const rule = GRADIENTS[node.op];
    if (!rule) throw new UserError(`node ${node.name} (${node.op}): no gradient rule`);
    const needs = node.inputs.map(needed);
    const scope = `${node.name}.grad`;
    const grads = b.scope(scope, () => rule(b, node, dY, needs, ctx));
    if (grads.length !== node.inputs.length) {
      throw new Error(`gradient rule for ${node.op} returned ${grads.length} gradients for ${node.inputs.length} inputs`);
    }
    grads.forEach((g, j) => { if (needs[j]) accumulate(node.inputs[j]!, g, `gradient rule for ${node.op} (${node.name})`, scope); });
  }
  return wrt.map(total);
}
