/**
 * `senet-ort study` in the browser: the images become tiles and splits as the CLI makes them
 * (tiles.ts), the plain network and its SE twin train on every fold in onnxruntime-web
 * (trainer.ts), each fold's model is evaluated on the test split and scored with the project's own
 * code (evaluate/scores.ts), the two are compared with its statistics (evaluate/verdict.ts), the
 * report is rendered (report/html.ts), and each network's fold ensemble is exported as `export`
 * writes it, checked against eval_step.onnx first. Everything is returned as files of one study
 * folder, laid out as the CLI lays it out, for the page to zip:
 *
 *   <name>/data/                    the tiles (PNG), manifest.csv, rejected.csv, dataset.json, splits.json
 *   <name>/<arch>/                  each network's run folder (rundir.ts), evaluated (metrics.json, …)
 *   <name>/<plain>-vs-<se>/         comparison.json, comparison.md, report.html
 *   <name>/models/<arch>-ensemble.onnx   the exported models
 *
 * Paths inside config.json are relative to the run folder, so the folder works wherever it is unpacked.
 */
import { UserError } from '../errors.ts';
import { argmax } from '../util/numeric.ts';
import { splitFiles } from '../data/grouped-split.ts';
import { LANCZOS3_RESIZE, resizeRgb } from '../data/resample.ts';
import { RAW_PIXELS, IDENTITY, writeSample } from '../data/augment.ts';
import type { ComparisonFile } from '../evaluate/compare.ts';
import type { ExcitationAnalysis } from '../evaluate/excitation.ts';
import { ExcitationAccumulator } from '../evaluate/excitation.ts';
import type { ScoreInput, Scores, RunMetrics, FoldCurve } from '../evaluate/scores.ts';
import { evaluationFiles, scoreRun } from '../evaluate/scores.ts';
import type { RunComparison } from '../evaluate/verdict.ts';
import { choosePrimaryMetric, compareRuns, verdictLine } from '../evaluate/verdict.ts';
import type { ScoreMetric } from '../evaluate/stats.ts';
import { exportMetadata } from '../formats/metadata.ts';
import { encodeModel } from '../formats/protobuf.ts';
import type { RunConfig, TrainOptions } from '../formats/rundir.ts';
import type { ZipEntry } from '../formats/zip.ts';
import { EXPORT_TOLERANCE, VERIFY_TILES, buildDeployGraph } from '../graph/deploy.ts';
import { BATCH_SYMBOL, EXCITATION_SUFFIX, buildInferenceGraph, excitationValues, resolveModel, withExcitationOutputs } from '../graph/model.ts';
import { plainTwin, seTwin } from '../graph/registry.ts';
import { configurationOf } from '../report/configuration.ts';
import type { ReportData, ReportPlots } from '../report/html.ts';
import { renderReport, reportPlots } from '../report/html.ts';
import { comparisonMarkdown, metricsMarkdown } from '../report/markdown.ts';
import { fileHeader, PRODUCER, VERSION } from '../version.ts';
import type { PreparedTiles, SourceImage, SplitSettings } from './tiles.ts';
import { DEFAULT_SPLIT, prepareTiles } from './tiles.ts';
import type { Backend, InputTiles, OrtModule, RunFile, TrainHooks, TrainedRun } from './trainer.ts';
import { predict, trainRun } from './trainer.ts';

/** What the person chooses; the rest is the CLI's `quick` preset (train/options.ts, held to it by a test). */
export interface StudySettings {
  /** The plain network; its SE twin is compared with it. */
  readonly arch: string;
  readonly input: readonly [number, number, number];
  readonly epochs: number;
  readonly batchSize: number;
  /** Steps per epoch, or null for one pass over the fold's training tiles. */
  readonly itersPerEpoch: number | null;
  readonly lr: number;
  readonly seed: number;
  readonly split: SplitSettings;
}

/** `senet-ort study`'s defaults: the quick preset, resnet20 against se_resnet20. */
export const STUDY_DEFAULTS: StudySettings = { arch: 'resnet20', input: [3, 64, 64], epochs: 15, batchSize: 16, itersPerEpoch: null, lr: 0.01, seed: 0, split: DEFAULT_SPLIT };

/** /?demo: minutes on WebAssembly and two cores (`--input 3x32x32 --epochs 2 --iters-per-epoch 5 --batch-size 8`). */
export const DEMO_SETTINGS: StudySettings = { ...STUDY_DEFAULTS, input: [3, 32, 32], epochs: 2, itersPerEpoch: 5, batchSize: 8 };

/** The quick preset's fixed options, and ort-train's defaults for the rest. */
export const QUICK_FIXED = {
  momentum: 0.9, weightDecay: 0.0001, schedule: 'cosine', warmupEpochs: 2, normalize: 'fold', stepSize: 10, gamma: 0.1,
  augment: true, colorJitter: 0, stainJitter: 0, labelSmoothing: 0,
} as const;

export interface StudyEnvironment {
  readonly ort: OrtModule;
  readonly backend: Backend;
  /** WebAssembly threads. */
  readonly threads: number;
  /** config.json's versions: this tool, onnxruntime-web, the browser. */
  readonly versions: Readonly<Record<string, string>>;
  readonly machine: RunConfig['machine'];
  /** A tile's pixels (packed RGB, size x size) as PNG bytes. */
  encodePng(rgb: Uint8Array, size: number): Promise<Uint8Array>;
  /** SHA-256 of bytes, as hex. */
  sha256(bytes: Uint8Array): Promise<string>;
}

export interface StudyHooks extends TrainHooks {
  /** A phase begins (tiling, training a network, evaluating, comparing, exporting). */
  onPhase?(text: string): void;
  /** The data set is ready: its tiles, classes and splits. */
  onTiles?(prepared: PreparedTiles): void;
}

/** What `/?demo` writes into #result, and what the page shows. */
export interface StudySummary {
  readonly archs: [string, string];
  /** Test accuracy of each fold's model, per network. */
  readonly accuracy: Record<string, number[]>;
  readonly verdict: string;
  readonly backend: Backend;
}

export interface StudyResult {
  readonly name: string;
  readonly summary: StudySummary;
  readonly prepared: PreparedTiles;
  /** The study folder's files, under `<name>/`. */
  readonly files: ZipEntry[];
  readonly reportHtml: string;
  readonly plots: ReportPlots;
  readonly comparison: RunComparison;
  readonly models: { arch: string; path: string; bytes: Uint8Array; maxDifference: number }[];
}

/** The pair: the plain network and its SE twin, or a one-line refusal. */
export function studyArchs(arch: string): [string, string] {
  const plain = plainTwin(arch);
  if (plain) throw new UserError(`the network names the plain network of the pair (the study adds its SE twin); received ${arch}, try ${plain}`);
  const se = seTwin(arch);
  if (!se) throw new UserError(`${arch} has no SE twin to compare it with`);
  return [arch, se];
}

/** The split's settings within the bounds `split` gives --folds and --test-fraction, or a one-line refusal. */
export function checkSplit(split: SplitSettings): void {
  if (!(Number.isInteger(split.folds) && split.folds >= 2 && split.folds <= 1000)) throw new UserError(`expected a whole number of folds from 2 to 1000 but received ${split.folds}`);
  if (!(split.testFraction >= 0 && split.testFraction < 1)) throw new UserError(`expected a test share from 0 up to (not including) 1 but received ${split.testFraction}`);
}

/** A network's resolved options, as `ort-train` would record them for this study. */
export function trainOptions(settings: StudySettings, arch: string, classes: number, folds: number, env: Pick<StudyEnvironment, 'backend' | 'threads'>): TrainOptions {
  const model = resolveModel({ arch, classes, input: settings.input, seed: settings.seed });
  if (!Number.isInteger(settings.epochs) || settings.epochs < 1) throw new UserError(`expected a positive whole number of epochs but received ${settings.epochs}`);
  if (!Number.isInteger(settings.batchSize) || settings.batchSize < 1) throw new UserError(`expected a positive whole batch size but received ${settings.batchSize}`);
  if (settings.itersPerEpoch !== null && !(Number.isInteger(settings.itersPerEpoch) && settings.itersPerEpoch >= 1)) throw new UserError(`expected a positive whole number of steps per epoch but received ${settings.itersPerEpoch}`);
  if (!(settings.lr > 0)) throw new UserError(`expected a positive learning rate but received ${settings.lr}`);
  return {
    data: '../data', arch, reduction: model.reduction, seWidth: model.seWidth ?? null,
    init: null, initFormat: null, initSha256: null, freeze: [], freezeBn: false,
    input: model.input, folds: Array.from({ length: folds }, (_, i) => i + 1),
    epochs: settings.epochs, batchSize: settings.batchSize, itersPerEpoch: settings.itersPerEpoch, lr: settings.lr,
    momentum: QUICK_FIXED.momentum, weightDecay: QUICK_FIXED.weightDecay, schedule: QUICK_FIXED.schedule, stepSize: QUICK_FIXED.stepSize,
    gamma: QUICK_FIXED.gamma, warmupEpochs: Math.min(QUICK_FIXED.warmupEpochs, settings.epochs - 1),
    augment: QUICK_FIXED.augment, colorJitter: QUICK_FIXED.colorJitter, stainJitter: QUICK_FIXED.stainJitter, normalize: QUICK_FIXED.normalize,
    labelSmoothing: QUICK_FIXED.labelSmoothing, classWeights: null, classWeighting: null, seed: settings.seed,
    threads: env.threads, device: env.backend === 'webgpu' ? 'webgpu' : 'cpu', kernels: env.backend === 'webgpu' ? 'webgpu' : 'portable',
    workers: 1, keepAll: false, out: '.', preset: 'quick',
  };
}

/** rundir.ts's data set checksum, computed with `sha256`: the class list, then each split tile's name and digest. */
export async function datasetChecksum(classes: readonly string[], files: readonly { name: string; bytes: Uint8Array }[], sha256: (bytes: Uint8Array) => Promise<string>): Promise<string> {
  let text = JSON.stringify(classes);
  for (const f of files) text += `\n${f.name}\n${await sha256(f.bytes)}`;
  return sha256(new TextEncoder().encode(text));
}

/**
 * The scores of a trained run on the test split: each fold's last checkpoint, as `senet-ort
 * evaluate` scores it, with the SE excitation analysis of an SE network (each block's gate per
 * channel, averaged per class: the inference graph with the gates as outputs).
 */
async function evaluate(run: TrainedRun, prepared: PreparedTiles, tiles: InputTiles, env: StudyEnvironment): Promise<{ input: ScoreInput; scores: Scores; probabilities: Float32Array[] }> {
  const splits = prepared.split.splits;
  const test = splits.test;
  const indices = test.map((f) => tiles.index.get(f)!);
  const labels = Int32Array.from(indices, (t) => tiles.labels[t]!);
  const se = run.options.reduction !== null;
  const graph = se ? withExcitationOutputs(buildInferenceGraph({ ...run.model, batch: BATCH_SYMBOL })) : null;
  const gates = graph ? excitationValues(graph) : [];
  const session = graph ? await env.ort.InferenceSession.create(encodeModel(graph, { stateAsInputs: true }), { executionProviders: [env.backend], graphOptimizationLevel: 'all', logSeverityLevel: 3 }) : run.evalStep;
  const probabilities: Float32Array[] = [];
  const analyses: ({ fold: number } & ExcitationAnalysis)[] = [];
  try {
    for (const fold of run.folds) {
      const p = await predict(env.ort, session, fold.last, tiles, indices, fold.normalization, run.options.input, run.options.batchSize, gates.map((g) => g.name));
      probabilities.push(p.probabilities);
      if (!se) continue;
      const excitation = new ExcitationAccumulator(prepared.classes);
      excitation.add(labels, gates.map((g, k) => ({ name: g.name.slice(0, -EXCITATION_SUFFIX.length), channels: g.shape[1] as number, data: p.gates[k]! })));
      analyses.push({ fold: fold.fold, ...excitation.result(`fold ${fold.fold} model (last checkpoint, epoch ${fold.state.epochsDone}) on the ${test.length} test tiles`) });
    }
  } finally {
    if (graph) await session.release();
  }
  const input: ScoreInput = {
    run: run.options.arch, arch: run.options.arch, test, labels, classes: [...prepared.classes], checkpoint: 'last',
    folds: run.folds.map((f) => f.fold), checkpoints: run.folds.map((f) => [f.state.epochsDone, f.state.last!] as const),
    groups: { groupOf: new Map(Object.entries(splits.tileGroups ?? {})), source: 'splits.json' },
    groupBy: splits.groupBy,
    dataset: { classes: prepared.classes, labels: new Map(prepared.tiles.map((t) => [t.file, prepared.classes.indexOf(t.className)])), splits },
    warnings: [],
    se,
  };
  return { input, scores: scoreRun(input, { probabilities, analyses }), probabilities };
}

/** compare's inputs from two scored runs, as compareRunDirs reads them from the evaluated folders. */
function comparison(a: { input: ScoreInput; scores: Scores; seed: number }, b: { input: ScoreInput; scores: Scores }, metric: { metric: ScoreMetric; reason: string | null }): RunComparison {
  const key = metric.metric === 'accuracy' ? 'accuracy' : 'balancedAccuracy';
  const correct = (s: Scores): boolean[] => s.ensembleRows.map((row, i) => argmax(row) === a.input.labels[i]);
  const ga = a.scores.metrics.groups!;
  const gb = b.scores.metrics.groups!;
  const groupCorrect = (s: Scores): boolean[] => s.groupRows!.ensemble.map((row, g) => argmax(row) === s.groupRows!.groups.labels[g]);
  const groupLevel = ga.unavailable !== null ? { unavailable: ga.unavailable } : gb.unavailable !== null ? { unavailable: gb.unavailable } : {
    grouping: ga.grouping,
    foldScoresA: ga.folds.map((f) => f.metrics[key]),
    foldScoresB: gb.folds.map((f) => f.metrics[key]),
    correctA: groupCorrect(a.scores),
    correctB: groupCorrect(b.scores),
  };
  return compareRuns({
    nameA: a.input.arch, nameB: b.input.arch,
    foldScoresA: a.scores.metrics.folds.map((f) => f.metrics[key]),
    foldScoresB: b.scores.metrics.folds.map((f) => f.metrics[key]),
    correctA: correct(a.scores), correctB: correct(b.scores), labels: [...a.input.labels],
    metric: metric.metric, ...(metric.reason === null ? {} : { metricReason: metric.reason }),
    groupLevel, seed: a.seed,
  });
}

/**
 * The fold ensemble as `senet-ort export` writes it (BatchNorm folded, the normalisation inside,
 * metadata), checked on up to 64 test tiles against eval_step.onnx's mean probabilities.
 */
async function exportEnsemble(run: TrainedRun, prepared: PreparedTiles, tiles: InputTiles, env: StudyEnvironment): Promise<{ bytes: Uint8Array; maxDifference: number }> {
  const members = run.folds.map((f) => ({
    fold: f.fold, checkpoint: f.state.last!, source: `fold-${f.fold}/${f.state.last}`,
    weights: new Map([...f.last].map(([n, t]) => [n, { dtype: 'float32' as const, dims: [...t.dims], data: t.data as Float32Array }])),
    scale: 255, mean: f.normalization.mean, std: f.normalization.std,
  }));
  const graph = buildDeployGraph(run.model, members);
  const bytes = encodeModel(graph, { metadata: exportMetadata(run.config, run.model, members) });
  const checked = prepared.split.splits.test.slice(0, VERIFY_TILES).map((f) => tiles.index.get(f)!);
  if (checked.length === 0) return { bytes, maxDifference: 0 };
  const [, h, w] = run.options.input;
  const plane = 3 * h * w;
  const images = new Float32Array(checked.length * plane);
  checked.forEach((t, i) => writeSample(tiles.rgb[t]!, w, h, IDENTITY, null, RAW_PIXELS, images, i * plane));
  const session = await env.ort.InferenceSession.create(bytes, { executionProviders: [env.backend], logSeverityLevel: 3 });
  let got: Float32Array;
  try {
    got = (await session.run({ images: new env.ort.Tensor('float32', images, [checked.length, 3, h, w]) }))['probabilities']!.data as Float32Array;
  } finally {
    await session.release();
  }
  const expected = new Float32Array(got.length);
  for (const f of run.folds) {
    const p = (await predict(env.ort, run.evalStep, f.last, tiles, checked, f.normalization, run.options.input, run.options.batchSize)).probabilities;
    p.forEach((v, i) => (expected[i]! += v / run.folds.length));
  }
  const maxDifference = got.reduce((worst, v, i) => Math.max(worst, Math.abs(v - expected[i]!)), 0);
  if (!(maxDifference < EXPORT_TOLERANCE)) {
    throw new UserError(`export check failed: ${run.options.arch}'s exported model differs from eval_step.onnx by ${maxDifference} on the test tiles (tolerance ${EXPORT_TOLERANCE})`);
  }
  return { bytes, maxDifference };
}

const encoder = new TextEncoder();
const bytesOf = (data: Uint8Array | string): Uint8Array => (typeof data === 'string' ? encoder.encode(data) : data);

/** Run the whole study on the images of the folder `root` (its name); returns the study folder's files and what the page shows. */
export async function runBrowserStudy(root: string, images: readonly SourceImage[], settings: StudySettings, env: StudyEnvironment, hooks: StudyHooks = {}): Promise<StudyResult> {
  const archs = studyArchs(settings.arch);
  checkSplit(settings.split);
  hooks.onPhase?.('Tiling and splitting the images');
  const prepared = prepareTiles(root, images, settings.split);
  hooks.onTiles?.(prepared);
  const splits = prepared.split.splits;
  const name = `senet-ort-${root.replace(/[^A-Za-z0-9._-]+/g, '-')}`;
  const files: ZipEntry[] = [];
  const add = (path: string, data: Uint8Array | string): void => void files.push({ path: `${name}/${path}`, data: bytesOf(data) });

  const png = new Map<string, Uint8Array>();
  for (const t of prepared.tiles) png.set(t.file, await env.encodePng(t.rgb, prepared.tile));
  for (const t of prepared.tiles) add(`data/${t.file}`, png.get(t.file)!);
  for (const [file, text] of Object.entries(prepared.files)) add(`data/${file}`, text);
  const used = splitFiles(splits);
  const checksum = await datasetChecksum(prepared.classes, used.map((f) => ({ name: f, bytes: png.get(f)! })), env.sha256);

  const [, h, w] = settings.input;
  const tiles: InputTiles = {
    index: new Map(prepared.tiles.map((t, i) => [t.file, i])),
    rgb: prepared.tiles.map((t) => resizeRgb(t.rgb, prepared.tile, prepared.tile, w, h)),
    labels: Int32Array.from(prepared.tiles, (t) => prepared.classes.indexOf(t.className)),
  };
  const config: Omit<RunConfig, 'options'> = {
    ...fileHeader('run'),
    created: new Date().toISOString(),
    versions: env.versions,
    machine: env.machine,
    dataset: {
      dir: '../data', checksum, classes: prepared.classes, tiles: used.length, tileSize: prepared.tile, folds: splits.folds.length,
      test: splits.test.length, resize: LANCZOS3_RESIZE, preparation: prepared.preparation,
    },
  };
  const trained: TrainedRun[] = [];
  const evaluated: { input: ScoreInput; scores: Scores; seed: number }[] = [];
  try {
    for (const arch of archs) {
      hooks.onPhase?.(`Training ${arch} on ${splits.folds.length} folds`);
      const options = trainOptions(settings, arch, prepared.classes.length, splits.folds.length, env);
      const run = await trainRun({ ort: env.ort, backend: env.backend, options, config, splits, splitsText: prepared.files['splits.json'], classes: prepared.classes, tiles }, hooks);
      trained.push(run);
      hooks.onPhase?.(`Evaluating ${arch} on the ${splits.test.length} test tiles`);
      const e = await evaluate(run, prepared, tiles, env);
      evaluated.push({ ...e, seed: options.seed });
      const { files: scoreFiles } = evaluationFiles(e.input, e.scores);
      for (const f of [...run.files, ...scoreFiles.map((s): RunFile => ({ path: s.path, data: s.text })), { path: 'metrics.md', data: metricsMarkdown(e.scores.metrics) }]) add(`${arch}/${f.path}`, f.data);
    }

    hooks.onPhase?.('Comparing the networks');
    const counts = prepared.classes.map((c) => prepared.tiles.filter((t) => t.className === c).length);
    const primary = choosePrimaryMetric(counts, prepared.classes);
    const result = comparison(evaluated[0]!, evaluated[1]!, primary);
    const [ma, mb]: RunMetrics[] = [evaluated[0]!.scores.metrics, evaluated[1]!.scores.metrics];
    const compared = `${archs[0]}-vs-${archs[1]}`;
    const comparisonFile: ComparisonFile = {
      ...fileHeader('comparison'), created: new Date().toISOString(), runs: { a: `../${archs[0]}`, b: `../${archs[1]}` },
      checkpoints: { a: 'last', b: 'last' }, comparison: result,
    };
    add(`${compared}/comparison.json`, `${JSON.stringify(comparisonFile, null, 2)}\n`);
    add(`${compared}/comparison.md`, comparisonMarkdown(comparisonFile, ma, mb));
    const data: ReportData = {
      title: `${archs.join(' vs ')} on ${root}`,
      generated: new Date().toISOString(),
      tool: `${PRODUCER} ${VERSION} (browser, ${env.backend === 'webgpu' ? 'WebGPU' : 'WebAssembly'})`,
      runs: trained.map((run, i) => ({
        name: run.options.arch, runDir: `${name}/${run.options.arch}`, configuration: configurationOf(run.config), se: run.options.reduction !== null,
        data: evaluated[i]!.scores.metrics.data, checkpoint: 'last epoch of each fold',
        curves: run.folds.map((f): FoldCurve => ({ fold: f.fold, selectedEpoch: f.state.epochsDone, points: f.records.map((r) => ({ epoch: r.epoch, trainLoss: r.trainLoss, valLoss: r.valLoss, trainAccuracy: r.trainAccuracy, valAccuracy: r.valAccuracy })) })),
        folds: evaluated[i]!.scores.metrics.folds.map((f) => f.metrics), ensemble: evaluated[i]!.scores.metrics.ensemble,
        groups: evaluated[i]!.scores.metrics.groups ?? null, excitation: evaluated[i]!.scores.excitation?.folds[0] ?? null,
      })),
      comparison: result,
    };
    const reportHtml = renderReport(data);
    add(`${compared}/report.html`, reportHtml);

    hooks.onPhase?.('Exporting each network\'s fold ensemble');
    const models: StudyResult['models'] = [];
    for (const run of trained) {
      const { bytes, maxDifference } = await exportEnsemble(run, prepared, tiles, env);
      const path = `models/${run.options.arch}-ensemble.onnx`;
      add(path, bytes);
      models.push({ arch: run.options.arch, path: `${name}/${path}`, bytes, maxDifference });
    }
    const summary: StudySummary = {
      archs,
      accuracy: Object.fromEntries(evaluated.map((e) => [e.input.arch, e.scores.metrics.folds.map((f) => f.metrics.accuracy)])),
      verdict: verdictLine(result),
      backend: env.backend,
    };
    return { name, summary, prepared, files, reportHtml, plots: reportPlots(data), comparison: result, models };
  } finally {
    for (const run of trained) await run.evalStep.release();
  }
}
