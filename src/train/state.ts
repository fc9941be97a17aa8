/**
 * The training state (parameters, momentum, running statistics) as two sets of ort.Tensors that
 * swap roles every step: a step reads the front set and ORT writes the `.next` outputs straight
 * into the back set (pre-allocated outputs), so no state is copied or allocated between steps.
 * The state starts from a checkpoint (or init.safetensors) and is saved as one.
 */
import * as ort from 'onnxruntime-node';
import type { ArtifactManifest } from '../formats/artifacts.ts';
import type { CheckpointInfo } from '../formats/checkpoint.ts';
import { loadCheckpoint, saveCheckpoint, stateNames } from '../formats/checkpoint.ts';

export class StateBuffers {
  readonly names: readonly string[];
  #sets: [Map<string, ort.Tensor>, Map<string, ort.Tensor>];
  #front = 0;

  /** The state in `path` (a checkpoint or init.safetensors), checked against the artifacts. */
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
  }

  get front(): ReadonlyMap<string, ort.Tensor> {
    return this.#sets[this.#front]!;
  }

  get back(): ReadonlyMap<string, ort.Tensor> {
    return this.#sets[1 - this.#front]!;
  }

  swap(): void {
    this.#front = 1 - this.#front;
  }

  /** Write the front set as a checkpoint. */
  save(path: string, info: CheckpointInfo): void {
    saveCheckpoint(path, this.names, (name) => {
      const t = this.front.get(name)!;
      return { dims: t.dims, data: t.data as Float32Array };
    }, info);
  }
}
