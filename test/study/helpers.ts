// Shared by the sweep tests: the built `senet-ort` as a child process, the tiny training options.
import { runBin } from '../helpers/cli.ts';

/** 32x32 inputs, batches of 8, one thread: seconds per task, and the same weights wherever it runs. */
export const TINY: readonly string[] = ['--input', '3x32x32', '--batch-size', '8', '--threads', '1', '--workers', '1'];

/** TINY for the cluster engines, where --cpus-per-task sets the threads and a --threads that differs is refused. */
export const CLUSTER_TINY: readonly string[] = TINY.filter((_, i) => TINY[i] !== '--threads' && TINY[i - 1] !== '--threads');

/** The built `senet-ort` (dist/, as npm test builds it first), with its exit code and output. */
export function senet(args: readonly string[], env: NodeJS.ProcessEnv = process.env): { code: number | null; stdout: string; stderr: string } {
  const r = runBin('main', args, { env, timeout: 600_000 });
  return { code: r.status, stdout: r.stdout.toString(), stderr: r.stderr };
}
