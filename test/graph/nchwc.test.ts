// The x64 training step (ONNX Runtime's NCHWc convolutions, src/graph/nchwc.ts) against the
// portable step it is lowered from: each lowered conv alone, then whole steps on the same state.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { Builder } from '../../src/graph/builder.ts';
import type { Graph, Node } from '../../src/graph/ir.ts';
import { withoutDeadNodes } from '../../src/graph/ir.ts';
import { resolveModel } from '../../src/graph/model.ts';
import { buildTrainStep } from '../../src/graph/train.ts';
import { DEFAULT_CONV_GRAD, convInputGrad } from '../../src/graph/conv-grad.ts';
import type { NchwcBlock, NchwcPolicy } from '../../src/graph/nchwc.ts';
import { DEFAULT_NCHWC, NCHWC_DOMAIN, lowerToNchwc, loweredConvs } from '../../src/graph/nchwc.ts';
import { decodeModel, encodeModel, graphFromModel, modelMetadata } from '../../src/formats/protobuf.ts';
import { nchwcBlock } from '../../src/train/kernels.ts';
import { createRng } from '../../src/util/random.ts';
import { data, floats, session } from '../helpers/ort.ts';
import type { Feeds } from '../helpers/ort.ts';
import { gradientLike, otherOrder, outsideRounding, relativeError, stepErrors } from '../helpers/step-compare.ts';

/** Every conv the pass can lower, whatever its size: the tests cover each kind. */
const EVERYTHING: NchwcPolicy = { minOutputSize: 1, pointwise: true, minInputGradSize: 1 };
const rng = createRng(7);
const random = (n: number, scale = 1): number[] => Array.from({ length: n }, () => rng.normal() * scale);

async function blockHere(): Promise<NchwcBlock> {
  const block = await nchwcBlock();
  assert.ok(block !== null, `no NCHWc kernels on this ${process.arch} machine: the x64 step cannot be tested here`);
  return block;
}

interface ConvCase { cin: number; cout: number; k: number; stride: number; size: number; bias?: boolean }

function convGraph(c: ConvCase): Graph {
  const b = new Builder();
  const x = b.input('x', 'float32', [2, c.cin, c.size, c.size]);
  const w = b.input('w', 'float32', [c.cout, c.cin, c.k, c.k]);
  const bias = c.bias ? b.input('b', 'float32', [c.cout]) : null;
  const p = (c.k - 1) >> 1;
  b.output(b.op('Conv', bias ? [x, w, bias] : [x, w], { kernel_shape: [c.k, c.k], strides: [c.stride, c.stride], pads: [p, p, p, p] }, { names: ['y'] }));
  return b.graph('conv');
}

/** conv-grad's dX by ConvTranspose: dY [2, cout, size, size] with the forward weight [cout, cin, k, k]. */
function transposeGraph(c: ConvCase): Graph {
  const b = new Builder();
  const dy = b.input('x', 'float32', [2, c.cout, c.size, c.size]);
  const w = b.input('w', 'float32', [c.cout, c.cin, c.k, c.k]);
  const p = (c.k - 1) >> 1;
  b.output(b.op('ConvTranspose', [dy, w], { kernel_shape: [c.k, c.k], strides: [c.stride, c.stride], pads: [p, p, p, p], group: 1, output_padding: [0, 0] }, { names: ['y'] }));
  return b.graph('conv_transpose');
}

async function runConv(graph: Graph, feeds: Feeds): Promise<Float32Array> {
  const s = await session(graph, { stateAsInputs: false });
  return data((await s.run(feeds))['y']!);
}

describe('x64 kernels: each lowered convolution', () => {
  const cases: ConvCase[] = [
    { cin: 3, cout: 64, k: 7, stride: 2, size: 20 }, // ImageNet stem: input stays NCHW
    { cin: 3, cout: 16, k: 3, stride: 1, size: 12 }, // CIFAR stem
    { cin: 16, cout: 16, k: 3, stride: 1, size: 12 },
    { cin: 16, cout: 32, k: 3, stride: 2, size: 12 },
    { cin: 32, cout: 24, k: 3, stride: 1, size: 9, bias: true }, // output channels padded to the block, bias too
    { cin: 64, cout: 256, k: 1, stride: 1, size: 6 },
    { cin: 64, cout: 128, k: 1, stride: 2, size: 6 },
  ];
  for (const c of cases) {
    it(`${c.cin}->${c.cout}, ${c.k}x${c.k}/${c.stride} on ${c.size}x${c.size}${c.bias ? ', bias' : ''}: equals the ONNX Conv`, async () => {
      const block = await blockHere();
      const plain = convGraph(c);
      const lowered = lowerToNchwc(plain, block, EVERYTHING);
      assert.equal(loweredConvs(lowered), 1);
      const feeds: Feeds = {
        x: floats(random(2 * c.cin * c.size * c.size), [2, c.cin, c.size, c.size]),
        w: floats(random(c.cout * c.cin * c.k * c.k, 0.2), [c.cout, c.cin, c.k, c.k]),
        ...(c.bias ? { b: floats(random(c.cout), [c.cout]) } : {}),
      };
      const [want, got] = [await runConv(plain, feeds), await runConv(lowered, feeds)];
      assert.equal(got.length, want.length);
      assert.ok(relativeError(got, want) < 1e-6, `relative error ${relativeError(got, want)}`);
    });
  }

  for (const c of [{ cin: 16, cout: 32, k: 3, stride: 1, size: 5 }, { cin: 32, cout: 16, k: 3, stride: 1, size: 2 }, { cin: 16, cout: 16, k: 5, stride: 1, size: 4 }] as ConvCase[]) {
    it(`dX of ${c.cin}->${c.cout}, ${c.k}x${c.k}/1 on ${c.size}x${c.size} by ConvTranspose: the flipped-kernel nchwc Conv equals it`, async () => {
      const block = await blockHere();
      const plain = transposeGraph(c);
      const lowered = lowerToNchwc(plain, block, EVERYTHING);
      assert.equal(loweredConvs(lowered), 1);
      assert.ok(lowered.nodes.every((n) => n.op !== 'ConvTranspose'));
      const feeds: Feeds = {
        x: floats(random(2 * c.cout * c.size * c.size), [2, c.cout, c.size, c.size]),
        w: floats(random(c.cout * c.cin * c.k * c.k, 0.2), [c.cout, c.cin, c.k, c.k]),
      };
      const [want, got] = [await runConv(plain, feeds), await runConv(lowered, feeds)];
      assert.equal(got.length, want.length);
      assert.ok(relativeError(got, want) < 1e-6, `relative error ${relativeError(got, want)}`);
    });
  }

  it('a strided ConvTranspose (dX of a stride-2 conv) stays as it is', () => {
    const lowered = lowerToNchwc(transposeGraph({ cin: 16, cout: 32, k: 3, stride: 2, size: 4 }), 16, EVERYTHING);
    assert.equal(loweredConvs(lowered), 0);
  });

  it('a conv the block cannot hold (20 input channels, neither under nor a multiple of the block) stays an ONNX Conv', async () => {
    const block = await blockHere();
    const lowered = lowerToNchwc(convGraph({ cin: 20, cout: 16, k: 3, stride: 1, size: 8 }), block, EVERYTHING);
    assert.equal(loweredConvs(lowered), 0);
    assert.ok(lowered.nodes.every((n) => !n.domain));
  });

  it('the default policy lowers 3x3 convs and their stride-1 dX on maps of any size, and leaves 1x1 convs alone', () => {
    const lowered = (g: Graph): number => loweredConvs(lowerToNchwc(g, 16, DEFAULT_NCHWC));
    assert.equal(lowered(convGraph({ cin: 16, cout: 16, k: 3, stride: 1, size: 12 })), 1);
    assert.equal(lowered(convGraph({ cin: 16, cout: 16, k: 3, stride: 1, size: 1 })), 1);
    assert.equal(lowered(transposeGraph({ cin: 16, cout: 32, k: 3, stride: 1, size: 2 })), 1);
    assert.equal(lowered(convGraph({ cin: 64, cout: 256, k: 1, stride: 1, size: 12 })), 0);
    assert.equal(lowered(transposeGraph({ cin: 64, cout: 256, k: 1, stride: 1, size: 12 })), 0);
  });

  it('the other block\'s layout computes garbage here: why a step built for it is refused, not run', async () => {
    const block = await blockHere();
    const other: NchwcBlock = block === 16 ? 8 : 16;
    const c: ConvCase = { cin: 32, cout: 32, k: 3, stride: 1, size: 8 };
    const plain = convGraph(c);
    const feeds: Feeds = { x: floats(random(2 * 32 * 64), [2, 32, 8, 8]), w: floats(random(32 * 32 * 9, 0.2), [32, 32, 3, 3]) };
    const want = await runConv(plain, feeds);
    const got = await runConv(lowerToNchwc(plain, other, EVERYTHING), feeds).catch(() => null);
    // Either ONNX Runtime rejects it or the numbers are wrong; never the right answer.
    if (got) assert.ok(got.length !== want.length || relativeError(got, want) > 0.1, `block ${other} on a block-${block} CPU gave the right answer`);
  });
});

/**
 * The blocked layout the nchwc Conv reads, by its definition: [Out/B][In/B][kh][kw][Bin][Bout], or
 * [Out/B][In][kh][kw][Bout] for an input with fewer channels than a block, Out padded with zeros.
 */
function blockedReference(w: Float32Array, [out, inp, kh, kw]: readonly number[], block: number): Float32Array {
  const outPadded = Math.ceil(out / block) * block;
  const inBlocked = inp >= block;
  const got = new Float32Array(outPadded * inp * kh * kw);
  let at = 0;
  for (let ob = 0; ob < outPadded / block; ob++) {
    for (let ib = 0; ib < (inBlocked ? inp / block : inp); ib++) {
      for (let y = 0; y < kh; y++) for (let x = 0; x < kw; x++) {
        for (let bi = 0; bi < (inBlocked ? block : 1); bi++) for (let bo = 0; bo < block; bo++) {
          const [o, c] = [ob * block + bo, inBlocked ? ib * block + bi : ib];
          got[at++] = o < out ? w[((o * inp + c) * kh + y) * kw + x]! : 0;
        }
      }
    }
  }
  return got;
}

/** dX's kernel at stride 1: W [O, I, kh, kw] with in and out swapped and flipped in space, [I, O, kh, kw]. */
function flippedKernel(w: Float32Array, [o, i, kh, kw]: readonly number[]): Float32Array {
  const got = new Float32Array(w.length);
  for (let a = 0; a < o; a++) for (let c = 0; c < i; c++) for (let y = 0; y < kh; y++) for (let x = 0; x < kw; x++) {
    got[((c * o + a) * kh + y) * kw + x] = w[((a * i + c) * kh + (kh - 1 - y)) * kw + (kw - 1 - x)]!;
  }
  return got;
}

/** The weight the lowered graph's one nchwc Conv reads, computed by the pass's own (standard ONNX) nodes from `w`. */
async function blockedByThePass(lowered: Graph, w: ort.Tensor): Promise<Float32Array> {
  const conv = lowered.nodes.find((n) => n.domain === NCHWC_DOMAIN && n.op === 'Conv')!;
  const wb = conv.inputs[1]!;
  const reorder = withoutDeadNodes({ ...lowered, inputs: lowered.inputs.filter((v) => v.name === 'w'), outputs: [wb] });
  assert.ok(reorder.nodes.every((n) => !n.domain), 'the weight reorder uses standard ONNX ops only');
  const s = await session(reorder, { stateAsInputs: false });
  return data((await s.run({ w }))[wb.name]!);
}

// These run on any CPU: the weight reorders are standard ONNX ops, only the nchwc Conv needs x86-64.
// MLAS defines both layouts with one routine per layout whose block size is a parameter
// (MlasReorderFilterOIHWBiBo, MlasReorderFilterOIHWBo), and the numeric tests above pin the formula
// below to what the kernels read for this CPU's block; so these check the other block's graph too
// (block 8 on AVX2, 16 on AVX-512).
describe('x64 kernels: the weight layouts, for both blocks', () => {
  const cases: (ConvCase & { layout: string })[] = [
    { layout: '[O/B][I/B][kh][kw][Bi][Bo]', cin: 32, cout: 24, k: 3, stride: 1, size: 6 },
    { layout: '[O/B][I][kh][kw][Bo] (the stem: input under a block)', cin: 3, cout: 20, k: 7, stride: 2, size: 12 },
  ];
  for (const block of [8, 16] as const) {
    for (const c of cases) {
      it(`block ${block}, forward ${c.cin}->${c.cout} ${c.k}x${c.k}: ${c.layout}, O padded to the block`, async () => {
        const dims = [c.cout, c.cin, c.k, c.k];
        const w = Float32Array.from(random(c.cout * c.cin * c.k * c.k));
        const got = await blockedByThePass(lowerToNchwc(convGraph(c), block, EVERYTHING), floats(w, dims));
        assert.deepEqual(got, blockedReference(w, dims, block));
      });
    }
    it(`block ${block}, dX of a 16->32 3x3 conv (ConvTranspose lowered): the forward layout of the flipped, transposed kernel`, async () => {
      const dims = [32, 16, 3, 3];
      const w = Float32Array.from(random(32 * 16 * 9));
      const got = await blockedByThePass(lowerToNchwc(transposeGraph({ cin: 16, cout: 32, k: 3, stride: 1, size: 4 }), block, EVERYTHING), floats(w, dims));
      assert.deepEqual(got, blockedReference(flippedKernel(w, dims), [16, 32, 3, 3], block));
    });
    it(`block ${block}, dX of a 16->32 3x3 conv (conv-grad's flipped-kernel Conv lowered): the same layout, from W`, async () => {
      const dims = [32, 16, 3, 3];
      const b = new Builder();
      const [x, w] = [b.input('x', 'float32', [2, 16, 4, 4]), b.input('w', 'float32', dims)];
      const dy = b.input('dy', 'float32', [2, 32, 4, 4]);
      const forward: Node = { name: 'conv', op: 'Conv', inputs: [x, w], outputs: [dy], attrs: { kernel_shape: [3, 3], pads: [1, 1, 1, 1], strides: [1, 1] } };
      b.output(convInputGrad(b, forward, dy, { ...DEFAULT_CONV_GRAD, dx: 'flipped' }));
      const lowered = lowerToNchwc(b.graph('dx'), block, EVERYTHING);
      assert.ok(lowered.nodes.every((n) => n.op !== 'Gather' || n.name.endsWith('/flip')), 'the flip of single floats is replaced by the blocked one');
      const weights = Float32Array.from(random(32 * 16 * 9));
      assert.deepEqual(await blockedByThePass(lowered, floats(weights, dims)), blockedReference(flippedKernel(weights, dims), [16, 32, 3, 3], block));
    });
  }
});

describe('x64 kernels: whole training steps', () => {
  const nets: [string, string, [number, number, number]][] = [
    ['resnet20', 'CIFAR stem, basic blocks', [3, 16, 16]],
    ['se_resnet20', 'CIFAR stem, basic blocks with SE', [3, 16, 16]],
    ['resnet18', 'ImageNet stem, basic blocks', [3, 32, 32]],
    ['se_resnet50', 'ImageNet stem, bottleneck blocks with SE', [3, 32, 32]],
    ['legacy_se_resnet18', 'Caffe layout: ceil-mode stem pool over the edge, a ReLU before SE', [3, 32, 32]],
  ];
  for (const [arch, what, input] of nets) {
    it(`${arch} (${what}): the x64 step equals the portable step (loss, logits, updates, running statistics), two steps from the same state`, async () => {
      const block = await blockHere();
      const config = { ...resolveModel({ arch, input, classes: 5, seed: 3 }), batch: 4 };
      const step = buildTrainStep(config);
      const x64 = lowerToNchwc(step.graph, block, EVERYTHING);
      assert.ok(loweredConvs(x64) >= 10, `only ${loweredConvs(x64)} convs lowered`);
      const errors = await stepErrors(step, x64, input, otherOrder(config), random);
      assert.equal(errors.length, 2 * step.graph.outputs.length);
      // A gradient jumps where a ReLU input sits within rounding of zero (BatchNorm over four
      // values on 1x1 maps puts some there), and which inputs do depends on the data. So the raw
      // gradients are compared below, on the smooth network: the momentum, and the biases, which
      // start at zero, so that their update is a scaled gradient too (gradientLike).
      const off = errors.filter((e) => !gradientLike(e.name) && outsideRounding(e));
      assert.deepEqual(off.slice(0, 3), [], `${off.length} outputs differ beyond rounding`);
    });

    it(`${arch} with sigmoids for ReLUs: every gradient of the x64 step equals the portable step's`, async () => {
      const block = await blockHere();
      const config = { ...resolveModel({ arch, input, classes: 5, seed: 3 }), batch: 4 };
      const step = buildTrainStep(config, {}, undefined, undefined, 'Sigmoid');
      const errors = await stepErrors(step, lowerToNchwc(step.graph, block, EVERYTHING), input, otherOrder(config, 'Sigmoid'), random);
      const off = errors.filter(outsideRounding);
      assert.deepEqual(off.slice(0, 3), [], `${off.length} outputs differ beyond rounding`);
    });
  }

  it('the comparison catches a wrong lowering: the other block\'s layout', async () => {
    const block = await blockHere();
    const input = [3, 16, 16] as const;
    const config = { ...resolveModel({ arch: 'resnet20', input, classes: 5, seed: 3 }), batch: 4 };
    const step = buildTrainStep(config);
    const wrong = lowerToNchwc(step.graph, block === 16 ? 8 : 16, EVERYTHING);
    const errors = await stepErrors(step, wrong, input, otherOrder(config), random).catch(() => null);
    if (errors) assert.ok(errors.filter(outsideRounding).length > errors.length / 2);
  });
});

describe('ONNX files back into the graph IR', () => {
  it('a portable and an x64 training step decode and encode to the same bytes', () => {
    const step = buildTrainStep({ ...resolveModel({ arch: 'se_resnet20', input: [3, 16, 16], classes: 4 }), batch: 2 });
    for (const graph of [step.graph, lowerToNchwc(step.graph, 16, EVERYTHING)]) {
      const bytes = encodeModel(graph, { stateAsInputs: true, metadata: { graph: 'train_step' } });
      const model = decodeModel(bytes);
      const again = encodeModel(graphFromModel(model), { metadata: modelMetadata(model), docString: model.docString });
      assert.equal(Buffer.compare(Buffer.from(again), Buffer.from(bytes)), 0);
    }
  });

  it('the x64 step names the nchwc operator set', () => {
    const step = buildTrainStep({ ...resolveModel({ arch: 'resnet20', input: [3, 16, 16], classes: 4 }), batch: 2 });
    const model = decodeModel(encodeModel(lowerToNchwc(step.graph, 8, EVERYTHING), { stateAsInputs: true }));
    assert.deepEqual(model.opsetImport.map((o) => [o.domain, Number(o.version)]), [['', 17], [NCHWC_DOMAIN, 1]]);
  });
});
