/**
 * The training state (parameters, momentum, running statistics) between steps, where the step's
 * device wants it, with one way to run a step on it and one way to save it as a checkpoint.
 *
 * On the CPU: two sets of ort.Tensors that swap roles every step: a step reads the front set and
 * ORT writes the `.next` outputs straight into the back set (pre-allocated outputs), so no state
 * is copied or allocated between steps.
 *
 * On a GPU (WebGPU): the step's `.next` outputs stay in GPU buffers (its session keeps them there)
 * and are fed back as the next step's inputs, so per step only the batch goes up and the loss and
 * logits come down. Reading such a tensor's data from JavaScript aborts onnxruntime-node 1.30, so
 * the state comes back for a checkpoint through a second session of Identity nodes whose outputs
 * ORT copies to the CPU. Validation reads the GPU tensors where they are.
 *
 * Either way the state starts from a checkpoint (or init.safetensors) and is saved as one, the
 * same file on every device, so a run may move between them.
 */
import * as ort from 'onnxruntime-node';
import type { ArtifactManifest } from '../formats/artifacts.ts';
import type { CheckpointInfo } from '../formats/checkpoint.ts';
import { loadCheckpoint, saveCheckpoint, stateNames } from '../formats/checkpoint.ts';
import { encodeModel } from '../formats/protobuf.ts';
import { Builder } from '../graph/builder.ts';
import { NEXT_SUFFIX } from '../graph/train.ts';
import type { SessionSettings } from '../infer/session.ts';
import { createSession } from '../infer/session.ts';
import type { StepOutput } from './resident-state.ts';
import { ResidentState, stepOutput } from './resident-state.ts';


export interface TrainingState {
  readonly names: readonly string[];
  /** The state the next step reads, by name (eval_step.onnx takes it as it is). */
  readonly front: ReadonlyMap<string, ort.Tensor>;
  /**
   * Run `session` (a train_step) on the state and `feeds` (images, labels, hyper-parameters). A
   * finite loss moves the state on; a non-finite one leaves it as it was: the caller stops, the
   * last good state stays.
   */
  step(session: ort.InferenceSession, feeds: Record<string, ort.Tensor>): Promise<StepOutput>;
  /** Write the state as a checkpoint. */
  save(path: string, info: CheckpointInfo): Promise<void>;
  release(): Promise<void>;
}

/** Bytes of state: what one read-back for a checkpoint moves. */
export function stateBytes(manifest: ArtifactManifest): number {
  const names = new Set(stateNames(manifest));
  return manifest.graphs.train_step.inputs.filter((i) => names.has(i.name)).reduce((s, i) => s + 4 * i.shape.reduce<number>((p, d) => p * Number(d), 1), 0);
}

/** The state in `path` (a checkpoint or init.safetensors), checked against the artifacts, for the device in `settings`. */
export async function loadState(path: string, manifest: ArtifactManifest, settings: SessionSettings): Promise<TrainingState> {
  return settings.device === 'webgpu' ? DeviceState.load(path, manifest, settings) : StateBuffers.load(path, manifest);
}

export class StateBuffers implements TrainingState {
  readonly names: readonly string[];
  #sets: [Map<string, ort.Tensor>, Map<string, ort.Tensor>];
  #front = 0;
  /** The fetches that write into each set, built once. */
  #fetches: [Record<string, ort.Tensor | null>, Record<string, ort.Tensor | null>];

  static load(path: string, manifest: ArtifactManifest): StateBuffers {
    const names = stateNames(manifest);
    const initial = loadCheckpoint(path, manifest);
    const a = new Map<string, ort.Tensor>();
    const b = new Map<string, ort.Tensor>();
    for (const name of names) {
      const t = initial.get(name)!;
      a.set(name, new ort.Tensor('float32', t.data as Float32Array, [...t.dims]));
      b.set(name, new ort.Tensor('float32', new Float32Array(t.data.length), [...t.dims]));
    }
    return new StateBuffers(names, [a, b]);
  }

  private constructor(names: readonly string[], sets: [Map<string, ort.Tensor>, Map<string, ort.Tensor>]) {
    this.names = names;
    this.#sets = sets;
    const into = (set: Map<string, ort.Tensor>): Record<string, ort.Tensor | null> => {
      const fetches: Record<string, ort.Tensor | null> = { loss: null, logits: null };
      for (const [name, t] of set) fetches[`${name}${NEXT_SUFFIX}`] = t;
      return fetches;
    };
    this.#fetches = [into(sets[0]), into(sets[1])];
  }

  get front(): ReadonlyMap<string, ort.Tensor> {
    return this.#sets[this.#front]!;
  }

  async step(session: ort.InferenceSession, feeds: Record<string, ort.Tensor>): Promise<StepOutput> {
    const all = { ...feeds };
    for (const [name, t] of this.front) all[name] = t;
    const out = stepOutput(await session.run(all, this.#fetches[1 - this.#front]!));
    if (Number.isFinite(out.loss)) this.#front = 1 - this.#front;
    return out;
  }

  async save(path: string, info: CheckpointInfo): Promise<void> {
    saveCheckpoint(path, this.names, (name) => {
      const t = this.front.get(name)!;
      return { dims: t.dims, data: t.data as Float32Array };
    }, info);
  }

  async release(): Promise<void> {}
}

/** Identity for every state tensor: running it on GPU tensors copies them to the CPU. */
function readBackModel(manifest: ArtifactManifest): Uint8Array {
  const shapes = new Map(manifest.graphs.train_step.inputs.map((i) => [i.name, i.shape]));
  const b = new Builder();
  for (const name of stateNames(manifest)) {
    const x = b.input(name, 'float32', shapes.get(name)!);
    b.output(b.op('Identity', [x], {}, { names: [`${name}.host`], name: `${name}.host` }));
  }
  return encodeModel(b.graph('state_read_back'));
}

class DeviceState implements TrainingState {
  readonly #state: ResidentState<ort.Tensor>;
  readonly #readBack: ort.InferenceSession;

  static async load(path: string, manifest: ArtifactManifest, settings: SessionSettings): Promise<DeviceState> {
    const names = stateNames(manifest);
    const initial = loadCheckpoint(path, manifest);
    const front = new Map(names.map((name) => {
      const t = initial.get(name)!;
      return [name, new ort.Tensor('float32', t.data as Float32Array, [...t.dims])] as const;
    }));
    return new DeviceState(new ResidentState(names, front), await createSession(readBackModel(manifest), { threads: settings.threads, device: settings.device }));
  }

  private constructor(state: ResidentState<ort.Tensor>, readBack: ort.InferenceSession) {
    this.#state = state;
    this.#readBack = readBack;
  }

  get names(): readonly string[] {
    return this.#state.names;
  }

  get front(): ReadonlyMap<string, ort.Tensor> {
    return this.#state.front;
  }

  step(session: ort.InferenceSession, feeds: Record<string, ort.Tensor>): Promise<StepOutput> {
    return this.#state.step(session, feeds);
  }

  async save(path: string, info: CheckpointInfo): Promise<void> {
    const host = await this.#readBack.run(Object.fromEntries(this.front));
    saveCheckpoint(path, this.names, (name) => {
      const t = host[`${name}.host`]!;
      return { dims: t.dims, data: t.data as Float32Array };
    }, info);
  }

  async release(): Promise<void> {
    this.#state.release();
    await this.#readBack.release();
  }
}
