/**
 * The SE excitation analysis of the SENet paper (Hu et al., section 7.2): for each SE block, the
 * mean excitation (the sigmoid gate, one value per channel per tile) over the test tiles of each
 * class. Blocks whose class curves part are the ones where the SE module treats classes differently.
 * Channels are specific to one trained model, so an analysis describes one fold's model, never a
 * mix of folds.
 */
import { expected } from '../errors.ts';

/** One SE block's excitation statistics. */
export interface ExcitationBlock {
  /** The SE module's path, e.g. `layer2.0.se`. */
  name: string;
  channels: number;
  /** mean[class][channel]: mean excitation over the tiles of that class; null for a class with no tiles. */
  mean: (number[] | null)[];
  /** Mean excitation per channel over all tiles. */
  all: number[];
  /**
   * How far apart the classes are in this block: the mean over channels of (largest class mean −
   * smallest class mean), over classes with tiles. 0 when the gate ignores the class.
   */
  spread: number;
}

/** Everything the excitation plot and excitation.json hold for one model. */
export interface ExcitationAnalysis {
  /** Which model on which data, in words: "fold 1 model (best checkpoint) on the test split". */
  source: string;
  classNames: string[];
  /** Tiles per class that went into the means. */
  tiles: number[];
  /** In graph order (shallow to deep). */
  blocks: ExcitationBlock[];
}

/** One SE block's raw gate values: N tiles × C channels, row-major (ONNX's [N, C, 1, 1] flattened). */
export interface ExcitationValues {
  name: string;
  channels: number;
  data: ArrayLike<number>;
}

/**
 * Per-class sums per channel per block, filled batch by batch, so that a large test split never
 * has to be held in memory: each tile adds its gate values to its class's row.
 */
export class ExcitationAccumulator {
  readonly classNames: readonly string[];
  readonly tiles: number[];
  #blocks: { name: string; channels: number; sums: Float64Array[] }[] | null = null;

  constructor(classNames: readonly string[]) {
    this.classNames = [...classNames];
    this.tiles = new Array<number>(classNames.length).fill(0);
  }

  /** Add a batch: one label per tile, and each block's n × channels gate values (row-major). */
  add(labels: ArrayLike<number>, blocks: readonly ExcitationValues[]): void {
    const n = labels.length;
    const k = this.classNames.length;
    this.#blocks ??= blocks.map((b) => {
      if (!Number.isInteger(b.channels) || b.channels < 1) throw expected('positive integer', `${b.name} channels`, b.channels);
      return { name: b.name, channels: b.channels, sums: Array.from({ length: k }, () => new Float64Array(b.channels)) };
    });
    if (blocks.length !== this.#blocks.length || blocks.some((b, i) => b.name !== this.#blocks![i]!.name || b.channels !== this.#blocks![i]!.channels)) {
      throw new Error(`excitation blocks changed between batches: ${blocks.map((b) => b.name).join(', ')}`);
    }
    for (let i = 0; i < n; i++) {
      const label = labels[i]!;
      if (!Number.isInteger(label) || label < 0 || label >= k) throw expected(`class index from 0 to ${k - 1}`, `labels[${i}]`, label);
    }
    blocks.forEach((block, b) => {
      const c = block.channels;
      if (block.data.length !== n * c) throw expected(`${n} × ${c} = ${n * c} values`, `${block.name} excitation`, block.data.length);
      const sums = this.#blocks![b]!.sums;
      for (let i = 0; i < n; i++) {
        const row = sums[labels[i]!]!;
        for (let j = 0; j < c; j++) row[j]! += block.data[i * c + j]!;
      }
    });
    for (let i = 0; i < n; i++) this.tiles[labels[i]!]! += 1;
  }

  /** The means so far, described by `source` ("fold 1 model (last checkpoint) on the test split"). */
  result(source: string): ExcitationAnalysis {
    const total = this.tiles.reduce((s, v) => s + v, 0);
    return {
      source,
      classNames: [...this.classNames],
      tiles: [...this.tiles],
      blocks: (this.#blocks ?? []).map(({ name, channels, sums }) => {
        const mean = sums.map((row, cls) => (this.tiles[cls] === 0 ? null : Array.from(row, (s) => s / this.tiles[cls]!)));
        const all = Array.from({ length: channels }, (_, j) => (total === 0 ? 0 : sums.reduce((s, row) => s + row[j]!, 0) / total));
        const present = mean.filter((m): m is number[] => m !== null);
        let spread = 0;
        for (let j = 0; j < channels; j++) {
          const values = present.map((m) => m[j]!);
          spread += values.length === 0 ? 0 : Math.max(...values) - Math.min(...values);
        }
        return { name, channels, mean, all, spread: spread / channels };
      }),
    };
  }
}

/** Per-class means per channel per block, from each tile's label and each block's gate values. */
export function excitationByClass(
  labels: ArrayLike<number>,
  blocks: readonly ExcitationValues[],
  classNames: readonly string[],
  source: string,
): ExcitationAnalysis {
  const acc = new ExcitationAccumulator(classNames);
  acc.add(labels, blocks);
  return acc.result(source);
}
