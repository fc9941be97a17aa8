/**
 * A structural check before anything is written (onnx.checker in spirit): every node reads only
 * values defined before it, names are unique, and every graph output is computed.
 */
import type { Graph, Value } from '../graph/ir.ts';
import { UserError } from '../errors.ts';

export function checkGraph(graph: Graph): void {
  const defined = new Set<Value>([...graph.inputs, ...graph.initializers.map((i) => i.value)]);
  const names = new Set<string>();
  const claim = (name: string, what: string): void => {
    if (names.has(name)) throw new UserError(`${graph.name}: duplicate ${what} name ${name}`);
    names.add(name);
  };
  for (const v of defined) claim(v.name, 'value');
  const nodeNames = new Set<string>();
  for (const node of graph.nodes) {
    if (nodeNames.has(node.name)) throw new UserError(`${graph.name}: duplicate node name ${node.name}`);
    nodeNames.add(node.name);
    for (const v of node.inputs) {
      if (v && !defined.has(v)) throw new UserError(`${graph.name}: node ${node.name} (${node.op}) reads ${v.name} before it is defined`);
    }
    for (const v of node.outputs) {
      claim(v.name, 'value');
      defined.add(v);
    }
  }
  for (const v of graph.outputs) {
    if (!defined.has(v)) throw new UserError(`${graph.name}: output ${v.name} is never computed`);
  }
}
