/**
 * `ort-train`'s engine: open the run directory (run.ts) from resolved options (options.ts), then
 * train each fold (fold.ts) with ONNX Runtime on train_step.onnx, validating each epoch with
 * eval_step.onnx (validate.ts).
 */
import { join } from 'node:path';
import type * as ort from 'onnxruntime-node';
import type { TrainOptions } from '../formats/rundir.ts';
import { TileLoader } from '../data/loader.ts';
import { splitFiles } from '../data/prepared.ts';
import type { Predictor } from '../infer/predictor.ts';
import { predictorOn } from '../infer/predictor.ts';
import type { Device } from '../infer/session.ts';
import { cpuNodes, createSession, requireDevice } from '../infer/session.ts';
import { heavyNodesWarning } from '../infer/placement.ts';
import type { FoldResult, RunContext } from './fold.ts';
import { trainFold } from './fold.ts';
import type { TrainInput } from './options.ts';
import { scheduleOf } from './options.ts';
import type { Progress } from './progress.ts';
import { createProgress, plural } from './progress.ts';
import type { OpenedRun } from './run.ts';
import { ensureArtifacts, openRun } from './run.ts';
import { describeSetup } from './init.ts';
import type { ArtifactManifest } from '../formats/artifacts.ts';
import { describeKernels, refuseKernels, trainStepFor } from './kernels.ts';
import { stepTransferBytes } from './epoch.ts';
import { deviceOutputs } from './resident-state.ts';
import { stateBytes } from './state.ts';
import { bytes as formatBytes } from '../util/format.ts';
import { describeSchedule } from './schedule.ts';

export interface TrainResult {
  readonly run: string;
  readonly options: TrainOptions;
  readonly folds: readonly FoldResult[];
}

export interface TrainHooks {
  /** Where progress goes (default: a bar on stderr when it is a terminal, epoch lines on stdout). */
  readonly progress?: Progress;
  /** Stops training cleanly at the next step boundary (a sweep task's SIGTERM). */
  readonly signal?: AbortSignal;
}

/**
 * The run directory with its artifacts; config.json (with the init record) is written by
 * `commit`, so a caller can first check that this machine can run the artifacts.
 */
function openWithArtifacts(given: TrainInput): OpenedRun & { manifest: ArtifactManifest; generated: boolean; commit: () => void } {
  const opened = openRun(given);
  const { manifest, generated } = ensureArtifacts(opened.options, opened.dataset.classes.length);
  return { ...opened, manifest, generated, commit: () => opened.commit(manifest.init ? { init: manifest.init } : {}) };
}

/** Create the run directory without training: what a sweep does once before its tasks. */
export function prepareRun(given: TrainInput): TrainOptions {
  const run = openWithArtifacts(given);
  run.commit();
  return run.options;
}

/** What a WebGPU run says at its start: what crosses to the GPU per step, and any heavy node ORT left on the CPU. */
function gpuLines(trainStep: ort.InferenceSession, options: TrainOptions, manifest: ArtifactManifest): string[] {
  const batch = typeof manifest.batch === 'number' ? manifest.batch : options.batchSize;
  const { up, down } = stepTransferBytes(options, batch, manifest.classes);
  const lines = [`webgpu: the training state stays on the GPU; per step ${formatBytes(up)} go up (the batch) and ${formatBytes(down)} come down (loss, logits); each checkpoint reads the state back (${formatBytes(stateBytes(manifest))})`];
  const warning = heavyNodesWarning(cpuNodes(trainStep), 'the training step');
  if (warning) lines.push(warning);
  return lines;
}

export async function train(given: TrainInput, hooks: TrainHooks = {}): Promise<TrainResult> {
  const progress = hooks.progress ?? createProgress(process.stderr.isTTY ? process.stderr : null);
  // Before anything is written: a run directory that cannot train helps nobody.
  await requireDevice(given.device);
  refuseKernels(given.kernels, given.device);
  const run = openWithArtifacts(given);
  const { options, dataset, manifest, generated } = run;
  // A resumed run's device comes from its config.json: checked before anything more is written.
  if (options.device !== given.device) await requireDevice(options.device);
  // Before config.json: artifacts this machine cannot run leave no half-started run behind.
  const step = await trainStepFor(options.out, manifest, options.kernels ?? 'auto', options.device);
  const kernels = describeKernels(step.kernels);
  run.commit();
  if (generated) progress.line(`generated the training artifacts of ${options.arch} (${manifest.parameters.length} parameter tensors) in ${options.out}`);
  if (generated) for (const line of describeSetup(manifest.init, options)) progress.line(line);
  progress.line(`training ${options.arch} into ${options.out}: fold${options.folds.length === 1 ? '' : 's'} ${options.folds.join(', ')}, ${plural(options.epochs, 'epoch')} of ${options.itersPerEpoch === null ? 'one pass' : plural(options.itersPerEpoch, 'batch', 'batches')} of ${options.batchSize}, input ${options.input.join('x')}, ${describeSchedule(scheduleOf(options))}, ${plural(options.threads, 'thread')}, ${options.device}`);
  const files = splitFiles(dataset);
  const loader = new TileLoader({ dir: dataset.dir, files, width: options.input[2], height: options.input[1] }, { workers: options.workers });
  const session = { threads: options.threads, device: options.device as Device };
  const onGpu = options.device === 'webgpu';
  let trainStep: ort.InferenceSession | undefined;
  let evalStep: Predictor | undefined;
  try {
    progress.line(`training step: ${kernels}`);
    trainStep = await createSession(step.model, { ...session, ...(onGpu ? { deviceOutputs: deviceOutputs(manifest) } : {}) });
    evalStep = predictorOn(await createSession(join(options.out, 'eval_step.onnx'), { ...session, batch: options.batchSize }), { classes: manifest.classes, input: options.input });
    if (onGpu) for (const line of gpuLines(trainStep, options, manifest)) progress.line(line);
    const ctx: RunContext = {
      options, dataset, manifest, loader, progress,
      index: new Map(files.map((f, i) => [f, i])),
      labels: Int32Array.from(files, (f) => dataset.labels.get(f)!),
      train: trainStep,
      kernels,
      eval: evalStep,
      resume: given.resume ?? false,
      signal: hooks.signal,
    };
    const results: FoldResult[] = [];
    for (const fold of options.folds) results.push(await trainFold(ctx, fold));
    return { run: options.out, options, folds: results };
  } finally {
    progress.clear();
    await loader.close();
    await trainStep?.release();
    await evalStep?.release();
  }
}
