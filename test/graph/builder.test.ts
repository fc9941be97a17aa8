// The builder's own guarantees beyond what every graph test exercises: continuing a finished graph
// (a graph pass's output) and inputs with a default.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Builder } from '../../src/graph/builder.ts';
import type { Node, Value } from '../../src/graph/ir.ts';
import { gradients } from '../../src/graph/autodiff.ts';
import { tensorFromNumbers } from '../../src/graph/tensor.ts';
import { data, floats, session } from '../helpers/ort.ts';

describe('Builder.continuing', () => {
  it('goes on from a graph whose pass left a value\'s producer stale: names kept, producers mended, new constants clash with none', async () => {
    const b = new Builder();
    const x = b.input('x', 'float32', [3]);
    b.constant(5); // const.f.0, unread: the finished graph drops it and keeps const.f.1
    const y = b.op('Mul', [x, b.constant(2)], {}, { name: 'double' });
    b.output(b.op('Identity', [y], {}, { names: ['y'], name: 'y' }));
    const graph = b.graph('g');
    // As foldBatchNorm does: a replacement node takes over an output whose `producer` still names the old node.
    const stale = graph.nodes[0]!;
    const replacement: Node = { ...stale, op: 'Add', inputs: [x, x] };
    const passed = { ...graph, nodes: [replacement, ...graph.nodes.slice(1)] };

    const e = Builder.continuing(passed);
    const double = e.valueNamed('double');
    assert.equal(double.producer?.op, 'Add', 'the value\'s producer is the node that computes it now');
    const z = e.op('Mul', [double, e.constant(3)], {}, { names: ['z'], name: 'z' });
    e.output(z);
    const [gx] = gradients(e, e.reduceSum(z, [0], false), [e.valueNamed('x')]);
    e.output(e.op('Identity', [gx!], {}, { names: ['dz/dx'], name: 'dz/dx' }));
    const out = await (await session(e.graph('g'))).run({ x: floats([1, 2, 3], [3]) });
    assert.deepEqual([...data(out['y']!)], [2, 4, 6], 'the old outputs stay, computed by the graph as passed');
    assert.deepEqual([...data(out['z']!)], [6, 12, 18]);
    assert.deepEqual([...data(out['dz/dx']!)], [6, 6, 6], 'the autodiff goes through the replacement (x + x)');
  });

  it('keeps an input with a default as an input and initializer of one name', () => {
    const b = new Builder();
    const c = b.inputWithDefault('c', ['N'], tensorFromNumbers([-1], 'int64', [1]));
    b.output(b.op('Identity', [c], {}, { names: ['out'], name: 'out' }));
    const e = Builder.continuing(b.graph('g'));
    const graph = e.graph('g');
    const input: Value = graph.inputs[0]!;
    assert.deepEqual([input.name, input.shape], ['c', ['N']]);
    assert.equal(graph.initializers.find((i) => i.value.name === 'c')?.value, input, 'one value, both input and initializer');
  });
});
