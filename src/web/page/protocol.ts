/** The messages between the page (main.ts) and its study worker (study-worker.ts). */
import type { EpochRecord } from '../../formats/rundir.ts';
import type { StudySettings, StudySummary } from '../study.ts';
import type { FirstStepRequest, StepProgress } from '../trainer.ts';
import type { RuntimeInfo } from './runtime.ts';

/** A file of the chosen folder: its path inside it (`class/…/name.png`) and the file itself. */
export interface ChosenFile {
  readonly path: string;
  readonly file: Blob;
}

export type ToWorker =
  | { readonly kind: 'probe' }
  /** The study on `files` of the folder `root`, or on the embedded sample when `files` is null. */
  | { readonly kind: 'study'; readonly root: string; readonly files: readonly ChosenFile[] | null; readonly settings: StudySettings }
  | { readonly kind: 'first-step'; readonly request: FirstStepRequest }
  /** The test hook's: decode and tile `files` of the folder `root` as the study would, and stop there. */
  | { readonly kind: 'prepare'; readonly root: string; readonly files: readonly ChosenFile[] };

/** A file as the worker decoded it: its size and the SHA-256 of its packed RGB pixels, or why it was not decoded. */
export type DecodedFile =
  | { readonly source: string; readonly width: number; readonly height: number; readonly sha256: string }
  | { readonly source: string; readonly error: string };

export type FromWorker =
  | { readonly kind: 'runtime'; readonly info: RuntimeInfo; readonly check: string }
  | { readonly kind: 'phase'; readonly text: string }
  | { readonly kind: 'tiles'; readonly text: string; readonly warnings: readonly string[]; readonly totalSteps: number }
  | { readonly kind: 'step'; readonly progress: StepProgress }
  | { readonly kind: 'epoch'; readonly arch: string; readonly record: EpochRecord }
  | {
    readonly kind: 'done';
    readonly summary: StudySummary;
    readonly name: string;
    readonly zip: Blob;
    readonly report: Blob;
    readonly models: readonly { readonly arch: string; readonly file: string; readonly blob: Blob }[];
    readonly figures: readonly { readonly title: string; readonly svg: string }[];
    readonly table: string;
  }
  | { readonly kind: 'first-step'; readonly loss: number; readonly logits: Float32Array; readonly next: Record<string, Float32Array> }
  /** The data set's files as `tile` and `split` write them (manifest.csv, splits.json, ...), or why there is none. */
  | { readonly kind: 'prepared'; readonly decoded: readonly DecodedFile[]; readonly files: Readonly<Record<string, string>> | null; readonly error: string | null }
  | { readonly kind: 'error'; readonly message: string };

/** The parts of a dedicated worker's scope the worker uses (the page's code is typed against the DOM). */
export interface WorkerScope {
  postMessage(message: FromWorker, transfer?: Transferable[]): void;
  addEventListener(type: 'message', listener: (event: MessageEvent<ToWorker>) => void): void;
}
