/**
 * `export`: a trained run becomes one plain inference model (src/graph/deploy.ts), checked before
 * it is written: on the run's test tiles its probabilities must match eval_step.onnx's (the
 * graph training validated with) within 1e-4, or nothing is written. The check runs both graphs
 * on the chosen device (default cpu); on WebGPU each with its batch fixed to the checked tiles.
 */
import * as ort from 'onnxruntime-node';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { EXPORT_TOLERANCE, VERIFY_TILES, buildDeployGraph } from '../graph/deploy.ts';
import type { DeployMember } from '../graph/deploy.ts';
import type { ModelConfig } from '../graph/model.ts';
import { encodeModel } from '../formats/protobuf.ts';
import { exportMetadata } from '../formats/metadata.ts';
import { readSafetensors } from '../formats/safetensors-file.ts';
import { decodeTile } from '../data/decode.ts';
import { writeFileAtomic } from '../util/atomic.ts';
import { UserError } from '../errors.ts';
import type { FoldNormalization } from '../formats/rundir.ts';
import { modelConfig } from '../train/options.ts';
import type { Predictor, Weights } from '../infer/predictor.ts';
import { predictorOn } from '../infer/predictor.ts';
import type { Normalization } from '../formats/rundir.ts';
import { IDENTITY, RAW_PIXELS, writeSample } from '../data/augment.ts';
import { artifactsDir, foldDir, listFolds, readFoldState, readNormalization, readRunConfig, splitsPath } from '../formats/rundir.ts';
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
}

export interface ExportResult {
  readonly path: string;
  readonly folds: readonly number[];
  readonly checkedTiles: number;
  readonly maxDifference: number;
}

interface Member extends DeployMember {
  readonly fold: number;
  readonly checkpoint: string;
  readonly normalization: FoldNormalization;
}

function loadMember(run: string, fold: number, which: 'best' | 'last'): Member {
  const state = readFoldState(run, fold);
  const file = which === 'best' ? state?.best?.file : state?.last;
  if (!file) throw new UserError(`${foldDir(run, fold)}: no ${which} checkpoint yet (train the fold first)`);
  const norm = readNormalization(run, fold);
  const path = join(foldDir(run, fold), file);
  return { fold, checkpoint: file, source: path, weights: readSafetensors(path).tensors, normalization: norm, scale: norm.scale, mean: norm.mean, std: norm.std };
}

/** The eval_step inputs other than `images` from a member's checkpoint. */
function memberWeights(m: Member, names: readonly string[]): Weights {
  return new Map(names.map((name) => {
    const t = m.weights.get(name);
    if (!t) throw new UserError(`fold ${m.fold}: checkpoint ${m.checkpoint} has no tensor ${name}`);
    return [name, new ort.Tensor('float32', t.data as Float32Array, [...t.dims])];
  }));
}

async function checkAgainstEvalStep(run: string, config: ModelConfig, model: Uint8Array, members: readonly Member[], tiles: readonly string[], device: { device: Device; threads: number }): Promise<number> {
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
  const members = folds.map((k) => loadMember(request.run, k, request.checkpoint));
  const config = modelConfig(o, run.dataset.classes.length);
  const graph = buildDeployGraph(config, members);
  const metadata = exportMetadata(run, config, members);
  const bytes = encodeModel(graph, { metadata });
  const splits = readSplits(splitsPath(request.run));
  const tiles = splits.test.slice(0, VERIFY_TILES).map((f) => join(o.data, f));
  const maxDifference = tiles.length ? await checkAgainstEvalStep(request.run, config, bytes, members, tiles, { device, threads }) : 0;
  if (!(maxDifference < EXPORT_TOLERANCE)) {
    throw new UserError(`export check failed: the exported model's probabilities differ from eval_step.onnx's by ${maxDifference} on the test tiles (tolerance ${EXPORT_TOLERANCE}); nothing written`);
  }
  const path = request.out ?? join('models', `${o.arch}-${request.fold === 'ensemble' ? 'ensemble' : `fold${request.fold}`}.onnx`);
  writeFileAtomic(path, bytes);
  return { path, folds, checkedTiles: tiles.length, maxDifference };
}
