/**
 * The page: choose or drop a folder of class folders, set the few options that matter, and the
 * study runs in the worker (study-worker.ts) while a progress bar and the training curves move;
 * then the verdict, the per-fold accuracy, the report's figures and the downloads. `/?demo` runs
 * the embedded sample with fixed options and writes the summary into #result as JSON.
 *
 * Nothing leaves the machine: the page talks to its worker only, and the Content-Security-Policy
 * (src/web/headers.ts) lets it reach its own origin only.
 */
import type { FoldCurve } from '../../evaluate/scores.ts';
import type { EpochRecord } from '../../formats/rundir.ts';
import { trainingCurves } from '../../report/plots.ts';
import type { StudySettings } from '../study.ts';
import { DEMO_SETTINGS, QUICK_FIXED, STUDY_DEFAULTS } from '../study.ts';
import type { FirstStepRequest } from '../trainer.ts';
import type { ChosenFile, FromWorker, ToWorker } from './protocol.ts';

const ISOLATION_RELOAD = 'senet-ort:isolation-reload';
const NETWORKS = ['resnet20', 'resnet32', 'resnet56', 'resnet18', 'resnet34', 'resnet50'];

/**
 * A host that sent no isolation headers: register coi-sw.js, which adds them, and reload once so
 * that the page comes back through it. True when the page is about to reload.
 */
async function isolate(): Promise<boolean> {
  if (globalThis.crossOriginIsolated || !('serviceWorker' in navigator) || sessionStorage.getItem(ISOLATION_RELOAD)) return false;
  try {
    await navigator.serviceWorker.register('/coi-sw.js', { scope: '/' });
    await navigator.serviceWorker.ready;
    sessionStorage.setItem(ISOLATION_RELOAD, '1');
    location.reload();
    return true;
  } catch {
    return false;
  }
}

function element<T extends HTMLElement>(id: string): T {
  const e = document.getElementById(id);
  if (!e) throw new Error(`index.html has no #${id}`);
  return e as T;
}

function showError(message: string): void {
  element('error').textContent = message;
  element<HTMLButtonElement>('start').disabled = false;
}

// ---------------------------------------------------------------------------------------------
// Choosing a folder

let chosen: { root: string; files: ChosenFile[] } | null = null;

/** The files of an <input webkitdirectory>: paths `root/class/…` with the root taken off. */
function fromInput(list: FileList): { root: string; files: ChosenFile[] } | null {
  const files = [...list].map((file) => ({ path: file.webkitRelativePath || file.name, file }));
  if (files.length === 0) return null;
  const root = files[0]!.path.split('/')[0]!;
  return { root, files: files.map((f) => ({ path: f.path.slice(root.length + 1), file: f.file })) };
}

/** Every file under a dropped directory entry, with its path inside it. */
async function walkEntry(entry: FileSystemEntry, prefix: string, out: ChosenFile[]): Promise<void> {
  if (entry.isFile) {
    const file = await new Promise<File>((resolve, reject) => (entry as FileSystemFileEntry).file(resolve, reject));
    out.push({ path: `${prefix}${entry.name}`, file });
    return;
  }
  const reader = (entry as FileSystemDirectoryEntry).createReader();
  // readEntries returns the entries a batch at a time, and an empty batch at the end.
  for (;;) {
    const batch = await new Promise<FileSystemEntry[]>((resolve, reject) => reader.readEntries(resolve, reject));
    if (batch.length === 0) break;
    for (const child of batch) await walkEntry(child, `${prefix}${entry.name}/`, out);
  }
}

async function fromDrop(items: DataTransferItemList): Promise<{ root: string; files: ChosenFile[] } | null> {
  const entries = [...items].map((i) => i.webkitGetAsEntry()).filter((e): e is FileSystemEntry => e !== null);
  const folder = entries.length === 1 && entries[0]!.isDirectory ? entries[0]! : null;
  if (!folder) return null;
  const files: ChosenFile[] = [];
  await walkEntry(folder, '', files);
  return { root: folder.name, files: files.map((f) => ({ path: f.path.slice(folder.name.length + 1), file: f.file })) };
}

function choose(folder: { root: string; files: ChosenFile[] } | null): void {
  chosen = folder;
  element('chosen').textContent = folder ? `${folder.root}: ${folder.files.length} files` : 'Drop one folder (of class folders), not loose files.';
  element<HTMLButtonElement>('start').disabled = !folder;
}

// ---------------------------------------------------------------------------------------------
// Options

function settingsFromForm(): StudySettings {
  const number = (id: string): number => Number(element<HTMLInputElement>(id).value);
  const side = number('input-size');
  const iters = element<HTMLInputElement>('iters').value.trim();
  return {
    ...STUDY_DEFAULTS,
    arch: element<HTMLSelectElement>('arch').value,
    input: [3, side, side],
    epochs: number('epochs'),
    batchSize: number('batch'),
    itersPerEpoch: iters === '' ? null : Number(iters),
    lr: number('lr'),
    split: { ...STUDY_DEFAULTS.split, folds: number('folds'), testFraction: number('test-fraction') },
  };
}

function fillForm(settings: StudySettings, locked: boolean): void {
  const arch = element<HTMLSelectElement>('arch');
  arch.replaceChildren(...NETWORKS.map((n) => new Option(`${n} vs se_${n}`, n, n === settings.arch, n === settings.arch)));
  element<HTMLInputElement>('input-size').value = String(settings.input[1]);
  element<HTMLInputElement>('epochs').value = String(settings.epochs);
  element<HTMLInputElement>('batch').value = String(settings.batchSize);
  element<HTMLInputElement>('iters').value = settings.itersPerEpoch === null ? '' : String(settings.itersPerEpoch);
  element<HTMLInputElement>('lr').value = String(settings.lr);
  element<HTMLInputElement>('folds').value = String(settings.split.folds);
  element<HTMLInputElement>('test-fraction').value = String(settings.split.testFraction);
  for (const e of element('settings').querySelectorAll('input, select')) (e as HTMLInputElement).disabled = locked;
  element('fixed').textContent = `As senet-ort study's quick preset: SGD with momentum ${QUICK_FIXED.momentum} and weight decay ${QUICK_FIXED.weightDecay}, a cosine schedule after ${QUICK_FIXED.warmupEpochs} warmup epochs, flips and 90° rotations, each fold's own normalisation; the test share held out of each class, grouped by slide where the file names name one, seed ${settings.seed}.`;
}

// ---------------------------------------------------------------------------------------------
// Progress

const curves = new Map<string, Map<number, EpochRecord[]>>();
let totalSteps = 0;
let stepsDone = 0;
let lastStep = '';

function drawCurves(arch: string): void {
  const folds = curves.get(arch)!;
  const data: FoldCurve[] = [...folds].map(([fold, records]) => ({
    fold, points: records.map((r) => ({ epoch: r.epoch, trainLoss: r.trainLoss, valLoss: r.valLoss, trainAccuracy: r.trainAccuracy, valAccuracy: r.valAccuracy })),
  }));
  const box = element('curves');
  let figure = box.querySelector<HTMLElement>(`[data-arch="${arch}"]`);
  if (!figure) {
    figure = document.createElement('figure');
    figure.dataset['arch'] = arch;
    box.append(figure);
  }
  figure.innerHTML = trainingCurves(data, { title: `Training curves: ${arch} (${data.length} folds so far)` });
}

function onMessage(message: FromWorker): void {
  switch (message.kind) {
    case 'runtime': {
      const { info } = message;
      const where = info.backend === 'webgpu' ? `WebGPU (${info.adapter})` : `WebAssembly, ${info.threads} thread${info.threads === 1 ? '' : 's'}`;
      const warning = info.isolated ? '' : ' — this host does not send the isolation headers, so WebAssembly runs on one thread';
      element('backend').textContent = `Runs on ${where}${warning}.`;
      element('backend').dataset['backend'] = info.backend;
      element('backend').title = `self-check: ${message.check}`;
      break;
    }
    case 'phase':
      element('phase').textContent = message.text;
      break;
    case 'tiles':
      element('tiles').textContent = message.text;
      element('warnings').replaceChildren(...message.warnings.map((w) => Object.assign(document.createElement('li'), { textContent: w })));
      totalSteps = message.totalSteps;
      element<HTMLProgressElement>('bar').max = totalSteps;
      break;
    case 'step': {
      const p = message.progress;
      stepsDone++;
      element<HTMLProgressElement>('bar').value = stepsDone;
      lastStep = `${p.arch}, fold ${p.fold}, epoch ${p.epoch}: step ${p.step}/${p.steps}, training loss ${p.loss.toFixed(3)}, accuracy ${p.accuracy.toFixed(3)}`;
      element('step').textContent = `${lastStep} (${Math.round((100 * stepsDone) / Math.max(1, totalSteps))}%)`;
      break;
    }
    case 'epoch': {
      const folds = curves.get(message.arch) ?? new Map<number, EpochRecord[]>();
      curves.set(message.arch, folds);
      folds.set(message.record.fold, [...(folds.get(message.record.fold) ?? []), message.record]);
      drawCurves(message.arch);
      break;
    }
    case 'done':
      showResults(message);
      break;
    case 'first-step':
      firstStepReply?.(message);
      break;
    case 'prepared':
      prepareReply?.(message);
      break;

    case 'error':
      showError(message.message);
      hookFailed?.(new Error(message.message));
      break;
  }
}

// ---------------------------------------------------------------------------------------------
// Results

function download(label: string, blob: Blob, file: string): HTMLAnchorElement {
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = file;
  a.textContent = label;
  a.className = 'download';
  return a;
}

function showResults(message: Extract<FromWorker, { kind: 'done' }>): void {
  element('phase').textContent = 'Done.';
  element<HTMLProgressElement>('bar').value = element<HTMLProgressElement>('bar').max;
  element('results').hidden = false;
  element('verdict').textContent = `Verdict: ${message.summary.verdict}.`;
  element('accuracy').textContent = `Test accuracy of each fold's model:\n${message.table}`;
  element('figures').replaceChildren(...message.figures.map((f) => {
    const figure = document.createElement('figure');
    figure.innerHTML = f.svg;
    figure.title = f.title;
    return figure;
  }));
  element('downloads').replaceChildren(
    download('report.html', message.report, 'report.html'),
    download(`the study folder (${message.name}.zip)`, message.zip, `${message.name}.zip`),
    ...message.models.map((m) => download(`${m.arch}'s fold ensemble (${m.file})`, m.blob, m.file)),
  );
  element('result').textContent = JSON.stringify(message.summary);
  element<HTMLButtonElement>('start').disabled = !chosen;
}

// ---------------------------------------------------------------------------------------------
// The test hooks, window.senetOrt: one training step on a given batch, compared by the tests with
// onnxruntime-node; and the chosen folder decoded, tiled and split as the study would, compared
// with the CLI's pixels and data set.

let firstStepReply: ((m: Extract<FromWorker, { kind: 'first-step' }>) => void) | null = null;
let prepareReply: ((m: Extract<FromWorker, { kind: 'prepared' }>) => void) | null = null;
/** The pending hook's rejection, for an error the worker reports. */
let hookFailed: ((e: Error) => void) | null = null;

function exposeHooks(worker: Worker): void {
  (globalThis as unknown as { senetOrt: unknown }).senetOrt = {
    firstStep: (request: FirstStepRequest) => new Promise((resolve, reject) => {
      firstStepReply = resolve;
      hookFailed = reject;
      const message: ToWorker = { kind: 'first-step', request };
      worker.postMessage(message);
    }),
    prepare: () => new Promise((resolve, reject) => {
      if (!chosen) return reject(new Error('no folder chosen'));
      prepareReply = resolve;
      hookFailed = reject;
      const message: ToWorker = { kind: 'prepare', root: chosen.root, files: chosen.files };
      worker.postMessage(message);
    }),
  };
}

// ---------------------------------------------------------------------------------------------

async function start(): Promise<void> {
  if (await isolate()) return;
  const demo = new URLSearchParams(location.search).has('demo');
  const worker = new Worker('/study-worker.js', { type: 'module' });
  worker.addEventListener('message', (event: MessageEvent<FromWorker>) => onMessage(event.data));
  worker.addEventListener('error', (event) => showError(`the study worker failed: ${event.message}`));
  exposeHooks(worker);
  const probe: ToWorker = { kind: 'probe' };
  worker.postMessage(probe);

  const run = (root: string, files: ChosenFile[] | null, settings: StudySettings): void => {
    element('error').textContent = '';
    element<HTMLButtonElement>('start').disabled = true;
    element('progress').hidden = false;
    element('results').hidden = true;
    curves.clear();
    element('curves').replaceChildren();
    stepsDone = 0;
    const message: ToWorker = { kind: 'study', root, files, settings };
    worker.postMessage(message);
  };

  fillForm(demo ? DEMO_SETTINGS : STUDY_DEFAULTS, demo);
  element<HTMLInputElement>('folder').addEventListener('change', (e) => choose(fromInput((e.target as HTMLInputElement).files!)));
  const drop = element('drop');
  drop.addEventListener('dragover', (e) => {
    e.preventDefault();
    drop.classList.add('over');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    void fromDrop(e.dataTransfer!.items).then(choose, (err: unknown) => showError(String(err)));
  });
  element('start').addEventListener('click', () => {
    if (chosen) run(chosen.root, chosen.files, settingsFromForm());
  });
  if (demo) {
    element('demo-note').hidden = false;
    element('choose').hidden = true;
    run('kather2016-crc-texture-sample', null, DEMO_SETTINGS);
  }
}

void start();
