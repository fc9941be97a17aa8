/** The training artifacts (artifacts.ts builds them) written to a folder, each file atomically. */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { ModelConfig } from '../graph/model.ts';
import type { LossOptions } from '../graph/train.ts';
import type { GradContext } from '../graph/gradients.ts';
import { writeFileAtomic } from '../util/atomic.ts';
import type { TrainingArtifacts } from './artifacts.ts';
import { buildArtifacts } from './artifacts.ts';

/** Write every file of the artifacts into `dir`; returns their names. */
export function writeArtifacts(artifacts: TrainingArtifacts, dir: string): string[] {
  const files = artifacts.files();
  mkdirSync(dir, { recursive: true });
  for (const [name, data] of files) writeFileAtomic(join(dir, name), data);
  return files.map(([name]) => name);
}

/** Builds every graph, then writes each file atomically; returns the files written. */
export function writeTrainingArtifacts(config: ModelConfig, dir: string, loss: LossOptions = {}, ctx?: GradContext): string[] {
  return writeArtifacts(buildArtifacts(config, loss, ctx), dir);
}
