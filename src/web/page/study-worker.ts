/**
 * The page's worker: it holds onnxruntime-web and runs everything heavy (decoding, tiling,
 * training, evaluation, the report, the zip), so the page stays responsive. Messages: protocol.ts.
 */
import { Builder } from '../../graph/builder.ts';
import { encodeModel } from '../../formats/protobuf.ts';
import { writeZip } from '../../formats/zip.ts';
import { textTable } from '../../util/table.ts';
import { VERSION } from '../../version.ts';
import type { SourceImage } from '../tiles.ts';
import { DEFAULT_SPLIT, prepareTiles } from '../tiles.ts';
import { runBrowserStudy } from '../study.ts';
import type { StudySettings } from '../study.ts';
import { firstStep } from '../trainer.ts';
import type { FirstStepRequest } from '../trainer.ts';
import { decodeImage, encodePng, sha256 } from './decode.ts';
import { SAMPLE_INDEX } from './paths.ts';
import type { ChosenFile, DecodedFile, FromWorker, ToWorker, WorkerScope } from './protocol.ts';
import type { Backend, OrtModule, RuntimeInfo } from './runtime.ts';
import { createSession, loadRuntime, webgpuAdapter } from './runtime.ts';

const scope = globalThis as unknown as WorkerScope;
const post = (message: FromWorker, transfer: Transferable[] = []): void => scope.postMessage(message, transfer);

let runtime: Promise<{ ort: OrtModule; info: RuntimeInfo }> | null = null;

/** The runtime for this browser's backend, loaded once. */
function ready(): Promise<{ ort: OrtModule; info: RuntimeInfo }> {
  runtime ??= (async () => {
    const backend: Backend = (await webgpuAdapter()) ? 'webgpu' : 'wasm';
    const { ort, info } = await loadRuntime(backend);
    return { ort, info };
  })();
  return runtime;
}

/**
 * One small graph run on the backend, checked against the same arithmetic in JavaScript: the
 * runtime's files loaded, compiled and ran (a 64x64 MatMul, large enough for the threads).
 */
async function selfCheck(): Promise<FromWorker> {
  const { ort, info } = await ready();
  const n = 64;
  const b = new Builder();
  const x = b.input('x', 'float32', [n, n]);
  b.output(b.op('MatMul', [x, x], {}, { names: ['y'], name: 'square' }));
  const session = await createSession(ort, info.backend, encodeModel(b.graph('self_check')));
  const data = Float32Array.from({ length: n * n }, (_, i) => ((i * 7) % 13) / 13 - 0.5);
  const out = (await session.run({ x: new ort.Tensor('float32', data, [n, n]) }))['y']!.data as Float32Array;
  await session.release();
  let worst = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let sum = 0;
      for (let k = 0; k < n; k++) sum += data[i * n + k]! * data[k * n + j]!;
      worst = Math.max(worst, Math.abs(sum - out[i * n + j]!));
    }
  }
  if (!(worst < 1e-4)) throw new Error(`the ${info.backend} runtime computed a 64x64 product off by ${worst}`);
  return { kind: 'runtime', info, check: `${n}x${n} MatMul within ${worst.toExponential(1)}` };
}

/** The embedded sample's files, from the app's own folder. */
async function sampleFiles(): Promise<ChosenFile[]> {
  const index = (await (await fetch(SAMPLE_INDEX)).json()) as string[];
  return Promise.all(index.map(async (path) => ({ path, file: await (await fetch(`/sample/${path}`)).blob() })));
}

/** Decode the files a few at a time, in order. */
async function decodeAll(files: readonly ChosenFile[]): Promise<SourceImage[]> {
  const out = new Array<SourceImage>(files.length);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < files.length) {
      const i = next++;
      out[i] = await decodeImage(files[i]!.path, files[i]!.file);
    }
  };
  await Promise.all(Array.from({ length: 4 }, lane));
  return out;
}

async function study(root: string, chosen: readonly ChosenFile[] | null, settings: StudySettings): Promise<void> {
  const { ort, info } = await ready();
  post({ kind: 'phase', text: chosen ? `Decoding ${chosen.length} files` : 'Loading the embedded sample' });
  const files = chosen ?? (await sampleFiles());
  const images = await decodeAll(files);
  const result = await runBrowserStudy(root, images, settings, {
    ort, backend: info.backend, threads: info.threads,
    versions: { 'senet-ort': VERSION, 'onnxruntime-web': (ort as unknown as { env: { versions: { web: string } } }).env.versions.web, browser: navigator.userAgent },
    machine: { platform: 'browser', arch: info.backend, cpus: navigator.hardwareConcurrency || 1, cpuModel: info.adapter ?? 'unknown' },
    encodePng, sha256,
  }, {
    onPhase: (text) => post({ kind: 'phase', text }),
    onTiles: (p) => {
      const splits = p.split.splits;
      const per = (train: number): number => Math.ceil((settings.itersPerEpoch === null ? train : settings.itersPerEpoch * settings.batchSize) / settings.batchSize);
      const totalSteps = 2 * settings.epochs * splits.folds.reduce((n, f) => n + per(f.train.length), 0);
      const text = `${p.tiles.length} tiles of ${p.tile}x${p.tile} px in ${p.classes.length} classes (${p.mode === 'pass-through' ? 'the images are tiles already' : 'cut from larger images'}), ${p.rejected.length} files rejected, ${p.dropped} tiles dropped as background; ${splits.test.length} test tiles and ${splits.folds.length} folds, grouped by ${p.groupBy.kind === 'regex' ? `/${p.groupBy.pattern}/ on file names` : 'source image'}`;
      post({ kind: 'tiles', text, warnings: [...p.warnings, ...splits.warnings], totalSteps });
    },
    onStep: (progress) => post({ kind: 'step', progress }),
    onEpoch: (arch, record) => post({ kind: 'epoch', arch, record }),
  });
  const folds = result.summary.accuracy[result.summary.archs[0]]!.map((_, k) => k + 1);
  const table = textTable(['fold', ...result.summary.archs], [
    ...folds.map((f) => [f, ...result.summary.archs.map((a) => result.summary.accuracy[a]![f - 1]!.toFixed(4))]),
  ]);
  const figures = [
    ...result.plots.curves.map((p) => ({ title: `Training curves: ${p.run}`, svg: p.svg })),
    ...result.plots.confusion.map((p) => ({ title: `Confusion matrix: ${p.run}`, svg: p.svg })),
    { title: 'Per-class F1', svg: result.plots.perClassF1 },
    ...result.plots.excitation.map((p) => ({ title: `SE excitation per class: ${p.run}`, svg: p.svg })),
  ];
  post({
    kind: 'done', summary: result.summary, name: result.name, table, figures,
    zip: new Blob([writeZip(result.files) as Uint8Array<ArrayBuffer>], { type: 'application/zip' }),
    report: new Blob([result.reportHtml], { type: 'text/html' }),
    models: result.models.map((m) => ({ arch: m.arch, file: m.path.slice(m.path.lastIndexOf('/') + 1), blob: new Blob([m.bytes as Uint8Array<ArrayBuffer>], { type: 'application/octet-stream' }) })),
  });
}

async function step(request: FirstStepRequest): Promise<void> {
  const { ort, info } = await ready();
  const result = await firstStep(ort, info.backend, request);
  post({ kind: 'first-step', loss: result.loss, logits: result.logits, next: Object.fromEntries(result.next) });
}

/** The test hook's half of the study: the files decoded (their pixels' digests) and tiled and split as the study does. */
async function prepare(root: string, files: readonly ChosenFile[]): Promise<FromWorker> {
  const images = await decodeAll(files);
  const decoded = await Promise.all(images.map(async (i): Promise<DecodedFile> => (
    'error' in i ? i : { source: i.source, width: i.width, height: i.height, sha256: await sha256(i.rgb) })));
  try {
    return { kind: 'prepared', decoded, files: prepareTiles(root, images, DEFAULT_SPLIT).files, error: null };
  } catch (err) {
    return { kind: 'prepared', decoded, files: null, error: err instanceof Error ? err.message : String(err) };
  }
}

scope.addEventListener('message', (event) => {
  const message: ToWorker = event.data;
  void (async () => {
    try {
      if (message.kind === 'probe') post(await selfCheck());
      else if (message.kind === 'study') await study(message.root, message.files, message.settings);
      else if (message.kind === 'first-step') await step(message.request);
      else if (message.kind === 'prepare') post(await prepare(message.root, message.files));
    } catch (err) {
      post({ kind: 'error', message: err instanceof Error ? err.message : String(err) });
    }
  })();
});
