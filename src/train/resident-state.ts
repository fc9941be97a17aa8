/**
 * A training state that lives where its step's session leaves the `.next` outputs (GPU buffers on
 * WebGPU): each step feeds the state back in and takes the outputs as the new state, so per step
 * only the batch goes up and the loss and logits come down. Written against the part of an ONNX
 * Runtime tensor and session it uses, so that onnxruntime-node's trainer (state.ts) and the
 * browser's (web/trainer.ts) share it.
 */
import type { ArtifactManifest } from '../formats/artifacts.ts';
import { stateNames } from '../formats/checkpoint-codec.ts';
import { NEXT_SUFFIX } from '../graph/train.ts';

/** The outputs a train step session should keep on the device for a state that lives there. */
export function deviceOutputs(manifest: ArtifactManifest): string[] {
  return stateNames(manifest).map((n) => `${n}${NEXT_SUFFIX}`);
}

/** What one step returns to the epoch loop. */
export interface StepOutput {
  readonly loss: number;
  readonly logits: Float32Array;
}

/** What the state uses of an ONNX Runtime tensor, onnxruntime-node's or onnxruntime-web's. */
export interface StateTensor {
  readonly location: string;
  readonly data: unknown;
  dispose(): void;
}

/** What the state uses of a train_step session. */
export interface StepSession<T> {
  run(feeds: Record<string, T>): Promise<{ readonly [name: string]: T }>;
}

/** The loss and logits of a train_step's outputs. */
export function stepOutput(out: { readonly [name: string]: StateTensor }): StepOutput {
  return { loss: (out['loss']!.data as Float32Array)[0]!, logits: out['logits']!.data as Float32Array };
}

export class ResidentState<T extends StateTensor> {
  readonly names: readonly string[];
  #front: Map<string, T>;

  constructor(names: readonly string[], initial: Map<string, T>) {
    this.names = names;
    this.#front = initial;
  }

  /** The state the next step reads, by name. */
  get front(): ReadonlyMap<string, T> {
    return this.#front;
  }

  /**
   * Run `session` on the state and `feeds` (the batch and the hyper-parameters). A finite loss
   * moves the state on and frees the buffers it replaces; a non-finite one frees the step's
   * outputs and leaves the state as it was.
   */
  async step(session: StepSession<T>, feeds: Record<string, T>): Promise<StepOutput> {
    const all = { ...feeds };
    for (const [name, t] of this.#front) all[name] = t;
    const raw = await session.run(all);
    const out = stepOutput(raw);
    const next = new Map(this.names.map((name) => [name, raw[`${name}${NEXT_SUFFIX}`]!]));
    const [kept, dropped] = Number.isFinite(out.loss) ? [next, this.#front] : [this.#front, next];
    this.#front = kept;
    dispose(dropped);
    return out;
  }

  /** Free the state's GPU buffers. */
  release(): void {
    dispose(this.#front);
  }
}

/** Free the GPU buffers of a set; CPU tensors (the state as loaded) are left to the GC. */
function dispose(set: ReadonlyMap<string, StateTensor>): void {
  for (const t of set.values()) if (t.location === 'gpu-buffer') t.dispose();
}
