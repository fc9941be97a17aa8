/**
 * A slide's calls as GeoJSON that QuPath imports (File > Import objects) and GIS tools read:
 * a FeatureCollection with one Feature per tile and model, its Polygon in level-0 pixels. QuPath
 * reads `objectType` only from `properties`, needs a `color` with every `classification`, and takes
 * numeric `measurements`; `name` says which model called the tile. Where two models disagree, an
 * annotation over the tile (classification "Disagreement") makes a layer of its own.
 */
import type { SlidePrediction } from './predict-slide.ts';
import { DISAGREEMENT, callsOf, classColour } from './calls.ts';

const round = (v: number): number => Math.round(v * 100) / 100;
const probability = (v: number): number => +v.toPrecision(6);

function polygon(p: SlidePrediction, t: number): string {
  const x = round(p.xs[t]!);
  const y = round(p.ys[t]!);
  const x1 = round(p.xs[t]! + p.tile * p.plan.factorX);
  const y1 = round(p.ys[t]! + p.tile * p.plan.factorY);
  return JSON.stringify({ type: 'Polygon', coordinates: [[[x, y], [x1, y], [x1, y1], [x, y1], [x, y]]] });
}

/** The FeatureCollection, piece by piece (a feature a piece), for `writeChunksAtomic`. */
export function* geoJsonChunks(p: SlidePrediction, labels: readonly string[], classes: readonly string[]): Generator<string> {
  const k = classes.length;
  const calls = p.probabilities.map((probs) => callsOf(probs, k));
  const classifications = classes.map((name, c) => JSON.stringify({ name, color: classColour(c) }));
  yield '{"type":"FeatureCollection","features":[';
  let first = true;
  const feature = (geometry: string, properties: string): string => {
    const text = `${first ? '' : ','}\n{"type":"Feature","geometry":${geometry},"properties":${properties}}`;
    first = false;
    return text;
  };
  for (let t = 0; t < p.xs.length; t++) {
    const geometry = polygon(p, t);
    for (const [m, probs] of p.probabilities.entries()) {
      const measurements = Object.fromEntries(classes.map((name, c) => [`prob_${name}`, probability(probs[t * k + c]!)]));
      yield feature(geometry, `{"objectType":"tile","name":${JSON.stringify(labels[m])},"classification":${classifications[calls[m]![t]!]},"measurements":${JSON.stringify(measurements)}}`);
    }
    if (calls.length === 2 && calls[0]![t] !== calls[1]![t]) {
      const name = `${labels[0]}: ${classes[calls[0]![t]!]}, ${labels[1]}: ${classes[calls[1]![t]!]}`;
      yield feature(geometry, `{"objectType":"annotation","name":${JSON.stringify(name)},"classification":${JSON.stringify({ name: 'Disagreement', color: DISAGREEMENT })}}`);
    }
  }
  yield '\n]}\n';
}
