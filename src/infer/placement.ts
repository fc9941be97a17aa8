/**
 * Which nodes of a WebGPU session ONNX Runtime left on the CPU. The optimised model it saves holds
 * the Memcpy nodes it inserted where data crosses between devices: a node fed by MemcpyToHost, or
 * one whose output goes through MemcpyFromHost, runs on the CPU, and so does a node fed only by
 * such nodes (and by graph inputs or constants). The sizes come from the shapes ORT inferred.
 */
import type onnxProto from 'onnx-proto';

export interface HostNode {
  readonly name: string;
  readonly op: string;
  /** Elements of its largest output, or null where ORT inferred no static shape. */
  readonly elements: number | null;
}

/** Nodes whose largest output holds at least this many elements are worth a warning. */
export const HEAVY_ELEMENTS: number = 1 << 16;

export function hostNodes(model: onnxProto.onnx.IModelProto): HostNode[] {
  const g = model.graph!;
  const nodes = g.node ?? [];
  const elements = new Map<string, number | null>();
  for (const v of [...(g.valueInfo ?? []), ...(g.output ?? [])]) {
    const dims = v.type?.tensorType?.shape?.dim;
    const sizes = dims?.map((d) => (d.dimValue !== undefined && d.dimValue !== null && !d.dimParam ? Number(d.dimValue) : NaN));
    elements.set(v.name ?? '', sizes && sizes.every(Number.isFinite) ? sizes.reduce((p, d) => p * d, 1) : null);
  }
  const producer = new Map<string, onnxProto.onnx.INodeProto>();
  for (const n of nodes) for (const o of n.output ?? []) producer.set(o, n);
  const onHost = new Set<onnxProto.onnx.INodeProto>();
  for (const n of nodes) {
    if (n.opType === 'MemcpyFromHost') {
      const p = producer.get(n.input?.[0] ?? '');
      if (p) onHost.add(p);
    }
  }
  // In topological order: on the CPU where some input comes from the CPU and none from the GPU.
  for (const n of nodes) {
    if (n.opType?.startsWith('Memcpy')) continue;
    let fromHost = false;
    let fromDevice = false;
    for (const i of n.input ?? []) {
      const p = producer.get(i);
      if (!p) continue;
      if (p.opType === 'MemcpyToHost' || onHost.has(p)) fromHost = true;
      else fromDevice = true;
    }
    if (fromHost && !fromDevice) onHost.add(n);
  }
  return nodes.filter((n) => onHost.has(n)).map((n) => {
    const sizes = (n.output ?? []).map((o) => elements.get(o) ?? null);
    const known = sizes.filter((s): s is number => s !== null);
    return { name: n.name ?? '', op: n.opType ?? '', elements: known.length === sizes.length && known.length > 0 ? Math.max(...known) : null };
  });
}

/** The heavy ones in words: `Conv layer1.0.conv1 (802816 values)`; empty when none. */
export function describeHeavy(nodes: readonly HostNode[]): string[] {
  return nodes.filter((n) => n.elements === null || n.elements >= HEAVY_ELEMENTS)
    .map((n) => `${n.op} ${n.name} (${n.elements === null ? 'size unknown' : `${n.elements} values`})`);
}

/**
 * The warning for the heavy nodes of `what` (`the training step`, a model's file) that run on the
 * CPU, copying between devices at every run; null when there are none.
 */
export function heavyNodesWarning(nodes: readonly HostNode[], what: string): string | null {
  const heavy = describeHeavy(nodes);
  if (heavy.length === 0) return null;
  const count = `${heavy.length} large node${heavy.length === 1 ? '' : 's'}`;
  return `warning: ONNX Runtime runs ${count} of ${what} on the CPU, not the GPU, copying between them at every run: ${heavy.slice(0, 5).join(', ')}${heavy.length > 5 ? ', ...' : ''}`;
}
