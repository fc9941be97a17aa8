/**
 * Running a model with Grad-CAM (graph/gradcam.ts: what `gen-graph --explain` and `export --explain`
 * write): images and the classes to explain in; probabilities and one map per image out. The
 * model's default for `class` is dropped and -1 fed where the predicted class is wanted, because
 * onnxruntime-node ignores a feed for an input that has an initializer.
 */
import { Tensor as OrtTensor } from 'onnxruntime-node';
import type * as ort from 'onnxruntime-node';
import { CAM_OUTPUT, CLASS_INPUT, PREDICTED_CLASS, resolveCamLayer } from '../graph/gradcam.ts';
import { buildDeployGraph } from '../graph/deploy.ts';
import type { ModelConfig } from '../graph/model.ts';
import { encodeModel, withRequiredInput } from '../formats/protobuf.ts';
import type { FoldMember } from '../formats/members.ts';
import { readFoldMember } from '../formats/members.ts';
import { readArtifactManifest } from '../formats/rundir.ts';
import { UserError } from '../errors.ts';
import { argmax } from '../util/numeric.ts';
import { configFromManifest } from './predictor.ts';
import { createSession } from './session.ts';
import type { SessionSettings } from './session.ts';

export interface Explanation {
  /** count x classes */
  readonly probabilities: Float32Array;
  /** The class each map explains: the one asked for, or the predicted one. */
  readonly classes: Int32Array;
  /** count x height x width: each image's map at its layer's resolution, as the model gives it. */
  readonly maps: Float32Array;
  readonly height: number;
  readonly width: number;
}

export class Explainer {
  private constructor(
    private readonly session: ort.InferenceSession,
    /** [C, H, W] */
    readonly input: readonly [number, number, number],
    readonly classCount: number,
    /** A model exported with a fixed batch takes only full batches: the last one is padded. */
    private readonly fixedBatch: number | null,
  ) {}

  /** A session on a model with Grad-CAM; a model without the `cam` output is refused, naming `--explain`. */
  static async open(model: Uint8Array, settings: SessionSettings, name = 'model'): Promise<Explainer> {
    const session = await createSession(withRequiredInput(model, CLASS_INPUT), settings);
    const images = session.inputMetadata.find((m) => m.name === 'images');
    const probabilities = session.outputMetadata.find((m) => m.name === 'probabilities');
    if (!session.outputNames.includes(CAM_OUTPUT) || !session.inputNames.includes(CLASS_INPUT) || !images?.isTensor || !probabilities?.isTensor) {
      await session.release();
      throw new UserError(`${name}: no Grad-CAM in this model (it needs the input ${CLASS_INPUT} and the output ${CAM_OUTPUT}); write it with senet-ort export --explain or gen-graph --explain`);
    }
    const [batch, c, h, w] = images.shape;
    return new Explainer(session, [Number(c), Number(h), Number(w)], Number(probabilities.shape[1]), typeof batch === 'number' ? batch : null);
  }

  /** Maps of `count` images (0-255 RGB, NCHW) for `classes` (default: each image's predicted class; -1 means it too). */
  async explain(images: Float32Array, count: number, classes?: readonly number[]): Promise<Explanation> {
    const [c, h, w] = this.input;
    const plane = c * h * w;
    if (images.length !== count * plane) throw new Error(`explain: ${images.length} floats for ${count} images of ${c}x${h}x${w}`);
    if (classes && classes.length !== count) throw new Error(`explain: ${classes.length} classes for ${count} images`);
    const n = this.fixedBatch !== null && count < this.fixedBatch ? this.fixedBatch : count;
    const fed = n === count ? images : padded(images, n * plane);
    const wanted = BigInt64Array.from({ length: n }, (_, i) => BigInt(classes?.[i] ?? PREDICTED_CLASS));
    const out = await this.session.run({ images: new OrtTensor('float32', fed, [n, c, h, w]), [CLASS_INPUT]: new OrtTensor('int64', wanted, [n]) }, ['probabilities', CAM_OUTPUT]);
    const cam = out[CAM_OUTPUT]!;
    const [, mh, mw] = cam.dims as number[];
    const k = this.classCount;
    const probabilities = (out['probabilities']!.data as Float32Array).slice(0, count * k);
    const chosen = Int32Array.from({ length: count }, (_, i) => (Number(wanted[i]) >= 0 ? Number(wanted[i]) : argmax(probabilities, i * k, k)));
    return { probabilities, classes: chosen, maps: (cam.data as Float32Array).slice(0, count * mh! * mw!), height: mh!, width: mw! };
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

function padded(data: Float32Array, length: number): Float32Array {
  const out = new Float32Array(length);
  out.set(data);
  return out;
}

/** A run's folds (each with the checkpoint named), as one model with Grad-CAM of `layer` (default the last stage): what `export --explain` writes, unchecked. */
export interface RunExplainModel {
  readonly bytes: Uint8Array;
  readonly config: ModelConfig;
  readonly layer: string;
  readonly members: readonly FoldMember[];
}

export function runExplainModel(run: string, checkpoints: readonly { fold: number; checkpoint: string }[], layer?: string): RunExplainModel {
  const config = configFromManifest(readArtifactManifest(run));
  const chosen = resolveCamLayer(config.spec, layer);
  const members = checkpoints.map((c) => readFoldMember(run, c.fold, c.checkpoint));
  return { bytes: encodeModel(buildDeployGraph(config, members, chosen)), config, layer: chosen, members };
}
