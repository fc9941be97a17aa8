/** A readable listing of a graph, for debugging and snapshot tests (onnx.printer in spirit). */
import type { AttrValue, Graph, Value } from '../graph/ir.ts';
import { formatShape, isTensor } from '../graph/ir.ts';

function typed(v: Value): string {
  return `${v.name}: ${v.dtype}${formatShape(v.shape)}`;
}

function attr(a: AttrValue): string {
  if (typeof a === 'number') return String(a);
  if (typeof a === 'string') return JSON.stringify(a);
  if (Array.isArray(a)) return `[${a.join(',')}]`;
  if (isTensor(a)) return `tensor${formatShape(a.dims)}`;
  return `${(a as { float: number }).float}f`;
}

export function toText(graph: Graph): string {
  const lines = [`graph ${graph.name} (opset ${graph.opset})`];
  for (const v of graph.inputs) lines.push(`  input  ${typed(v)}`);
  for (const i of graph.initializers) lines.push(`  ${i.kind.padEnd(9)} ${typed(i.value)}`);
  for (const n of graph.nodes) {
    const attrs = Object.keys(n.attrs).sort().map((k) => `${k}=${attr(n.attrs[k]!)}`).join(', ');
    const ins = n.inputs.map((v) => v?.name ?? '').join(', ');
    lines.push(`  ${n.outputs.map(typed).join(', ')} = ${n.op}${attrs ? `<${attrs}>` : ''}(${ins})  # ${n.name}`);
  }
  for (const v of graph.outputs) lines.push(`  output ${typed(v)}`);
  return lines.join('\n') + '\n';
}
