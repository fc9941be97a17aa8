/**
 * `export`: a trained run becomes one plain inference model (src/graph/deploy.ts), checked before
 * it is written: on the run's test tiles its probabilities must match eval_step.onnx's (the
 * graph training validated with) within 1e-4, or nothing is written. The check runs both graphs
 * on the chosen device (default cpu); on WebGPU each with its batch fixed to the checked tiles.
 * With `explain`, the model also gives the Grad-CAM map of a layer (graph/gradcam.ts).
 */
import * as ort from 'onnxruntime-node';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { EXPORT_TOLERANCE, VERIFY_TILES, buildDeployGraph } from '../graph/deploy.ts';
import type { ModelConfig } from '../graph/model.ts';
import { encodeModel } from '../formats/protobuf.ts';
import { exportMetadata, gradCamMetadata } from '../formats/metadata.ts';
import { CAM_OUTPUT, resolveCamLayer } from '../graph/gradcam.ts';
import { Explainer } from '../infer/explainer.ts';
import type { FoldMember } from '../formats/members.ts';
import { foldCheckpoint, readFoldMember } from '../formats/members.ts';
import { decodeTile } from '../data/decode.ts';
import { writeFileAtomic } from '../util/atomic.ts';
import { UserError } from '../errors.ts';
import { modelConfig } from '../train/options.ts';
import type { Predictor, Weights } from '../infer/predictor.ts';
import { predictorOn } from '../infer/predictor.ts';
import type { Normalization } from '../formats/rundir.ts';
import { IDENTITY, RAW_PIXELS, writeSample } from '../data/augment.ts';
import { artifactsDir, listFolds, readFoldState, readRunConfig, splitsPath } from '../formats/rundir.ts';
import { readSplits } from '../data/prepared.ts';
import { createSession } from '../infer/session.ts';
import type { Device, SessionSettings } from '../infer/session.ts';

export { EXPORT_TOLERANCE, VERIFY_TILES } from '../graph/deploy.ts';

export interface ExportRequest {
  readonly run: string;
  /** One fold (1-based), or every finished fold averaged. */
  readonly fold: number | 'ensemble';
  readonly checkpoint: 'best' | 'last';
  /** Default: models/<arch>-fold<k>.onnx or models/<arch>-ensemble.onnx */
  readonly out?: string;
  /** Where the check runs both graphs (default cpu). */
  readonly device?: Device;
  /** ONNX Runtime threads of the check (default: the number of CPUs). */
  readonly threads?: number;
  /** Add Grad-CAM (the `class` input, the `cam` output) of this layer; '' for the default, the last stage. */
  readonly explain?: string;
}

export interface ExportResult {
  readonly path: string;
  readonly folds: readonly number[];
  readonly checkedTiles: number;
  readonly maxDifference: number;
  /** With Grad-CAM: its layer and the map's size. */
  readonly explain?: { readonly layer: string; readonly height: number; readonly width: number };
}


/** The eval_step inputs other than `images` from a member's checkpoint. */
function memberWeights(m: FoldMember, names: readonly string[]): Weights {
  return new Map(names.map((name) => {
    const t = m.weights.get(name);
    if (!t) throw new UserError(`fold ${m.fold}: checkpoint ${m.checkpoint} has no tensor ${name}`);
    return [name, new ort.Tensor('float32', t.data as Float32Array, [...t.dims])];
  }));
}

async function checkAgainstEvalStep(run: string, config: ModelConfig, model: Uint8Array, members: readonly FoldMember[], tiles: readonly string[], device: { device: Device; threads: number }): Promise<number> {
  const [, height, width] = config.input;
  const plane = height * width;
  const rgbs = await Promise.all(tiles.map((t) => decodeTile(t, width, height)));
  // Both inputs as training's loader writes them: raw bytes for the export, each fold's normalisation for eval_step.
  const batch = (norm: Normalization): Float32Array => {
    const out = new Float32Array(tiles.length * 3 * plane);
    rgbs.forEach((rgb, t) => writeSample(rgb, width, height, IDENTITY, null, norm, out, t * 3 * plane));
    return out;
  };
  // One batch of every checked tile, through each graph (on WebGPU, graphs of that fixed batch).
  const settings: SessionSettings = { ...device, batch: tiles.length };
  const exported = predictorOn(await createSession(model, settings), config);
  let evalStep: Predictor;
  try {
    evalStep = predictorOn(await createSession(join(artifactsDir(run), 'eval_step.onnx'), settings), config);
  } catch (err) {
    await exported.release();
    throw err;
  }
  try {
    const got = (await exported.predict(batch(RAW_PIXELS), tiles.length)).probabilities;
    const expected = new Float32Array(got.length);
    for (const m of members) {
      const p = (await evalStep.predict(batch(m.normalization), tiles.length, memberWeights(m, evalStep.weightNames))).probabilities;
      p.forEach((v, i) => { expected[i]! += v / members.length; });
    }
    return got.reduce((worst, v, i) => Math.max(worst, Math.abs(v - expected[i]!)), 0);
  } finally {
    await Promise.all([exported.release(), evalStep.release()]);
  }
}

export async function exportRun(request: ExportRequest): Promise<ExportResult> {
  const device = request.device ?? 'cpu';
  const threads = request.threads ?? availableParallelism();
  const run = readRunConfig(request.run);
  const o = run.options;
  const folds = request.fold === 'ensemble' ? listFolds(request.run).filter((k) => readFoldState(request.run, k)?.finished) : [request.fold];
  if (folds.length === 0) throw new UserError(`${request.run}: no finished fold to export`);
  const members = folds.map((k) => readFoldMember(request.run, k, foldCheckpoint(request.run, k, request.checkpoint)));
  const config = modelConfig(o, run.dataset.classes.length);
  const layer = request.explain === undefined ? undefined : resolveCamLayer(config.spec, request.explain || undefined);
  const graph = buildDeployGraph(config, members, layer);
  const metadata = { ...exportMetadata(run, config, members), ...(layer === undefined ? {} : gradCamMetadata(layer, members.length)) };
  const bytes = encodeModel(graph, { metadata });
  const splits = readSplits(splitsPath(request.run));
  const tiles = splits.test.slice(0, VERIFY_TILES).map((f) => join(o.data, f));
  const maxDifference = tiles.length ? await checkAgainstEvalStep(request.run, config, bytes, members, tiles, { device, threads }) : 0;
  if (!(maxDifference < EXPORT_TOLERANCE)) {
    throw new UserError(`export check failed: the exported model's probabilities differ from eval_step.onnx's by ${maxDifference} on the test tiles (tolerance ${EXPORT_TOLERANCE}); nothing written`);
  }
  if (layer !== undefined && tiles.length) await checkMaps(config, bytes, tiles, { device, threads });
  const cam = graph.outputs.find((v) => v.name === CAM_OUTPUT);
  const explain = layer === undefined || !cam ? undefined : { layer, height: cam.shape[1] as number, width: cam.shape[2] as number };
  const path = request.out ?? join('models', `${o.arch}-${request.fold === 'ensemble' ? 'ensemble' : `fold${request.fold}`}.onnx`);
  writeFileAtomic(path, bytes);
  return { path, folds, checkedTiles: tiles.length, maxDifference, ...(explain ? { explain } : {}) };
}

/**
 * The exported model's Grad-CAM maps on the checked tiles: finite and non-negative, or nothing is
 * written. (Their numbers are the graph's, which the test suite checks against finite differences
 * and bench/gradcam.ts against PyTorch.)
 */
async function checkMaps(config: ModelConfig, model: Uint8Array, tiles: readonly string[], device: { device: Device; threads: number }): Promise<void> {
  const [, height, width] = config.input;
  const plane = height * width;
  const explainer = await Explainer.open(model, { ...device, batch: tiles.length }, 'the exported model');
  try {
    const rgbs = await Promise.all(tiles.map((t) => decodeTile(t, width, height)));
    const images = new Float32Array(tiles.length * 3 * plane);
    rgbs.forEach((rgb, t) => writeSample(rgb, width, height, IDENTITY, null, RAW_PIXELS, images, t * 3 * plane));
    const e = await explainer.explain(images, tiles.length);
    const bad = e.maps.findIndex((v) => !(v >= 0) || !Number.isFinite(v));
    if (bad >= 0) throw new UserError(`export check failed: the Grad-CAM map of test tile ${tiles[Math.floor(bad / (e.height * e.width))]} holds ${e.maps[bad]}; nothing written`);
  } finally {
    await explainer.release();
  }
}
