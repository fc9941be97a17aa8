/**
 * What a Slurm cluster's partitions offer, read from `sinfo`, and whether a sweep's task fits one
 * of their nodes. Slurm accepts a request that no node of the partition can meet (with its default
 * EnforcePartLimits=NO) and keeps it pending for ever, its reason PartitionConfig (CPUs, memory,
 * GPUs) or PartitionTimeLimit (--time); so `sweep --engine slurm` asks before it submits.
 *
 * One `sinfo` call, a line per node and partition (`-N`), hidden partitions too (`-a`):
 *   %P partition, `*` after the default one   %N node name   %c CPUs   %m memory in MB
 *   %G generic resources: `(null)`, `gpu:2`, `gpu:a100:4(S:0-1)`, `gpu:a100:2,gpu:v100:2`, ...
 *   %l the partition's time limit: `infinite`, `1-00:00:00`, `12:00:00`, `30:00`
 */
import { spawnSync } from 'node:child_process';
import { UserError } from '../errors.ts';

export const SINFO_ARGS: readonly string[] = ['-h', '-N', '-a', '-o', '%P|%N|%c|%m|%G|%l'];

export interface SlurmNode {
  readonly name: string;
  readonly cpus: number;
  readonly memMb: number;
  readonly gpus: number;
}

export interface SlurmPartition {
  readonly name: string;
  readonly isDefault: boolean;
  /** Seconds; null where the partition has none. */
  readonly timeLimit: number | null;
  readonly nodes: readonly SlurmNode[];
}

/** What each task asks for, with the flag each part came from for the message. */
export interface TaskRequest {
  readonly partition?: string | undefined;
  readonly cpus: number;
  /** Slurm's --mem: 8G, 4000M, 4000 (MB). */
  readonly mem: string;
  readonly gpus: number;
  /** Slurm's --time, if given. */
  readonly time?: string | undefined;
  /** The flags behind the request, e.g. `--cpus-per-task 4, --mem 8G`. */
  readonly flags: string;
}

/** GPUs in a node's GRES: the counts of its `gpu` entries, typed or not (`gpu:a100` alone is one); `(null)` has none. */
export function gresGpus(gres: string): number {
  let gpus = 0;
  // Commas inside parentheses (socket lists, `S:0,1`) do not separate entries.
  for (const entry of gres.replace(/\([^)]*\)/g, '').split(',')) {
    const [name, ...rest] = entry.trim().split(':');
    if (name !== 'gpu') continue;
    const count = rest.at(-1);
    gpus += count !== undefined && /^\d+$/.test(count) ? Number(count) : 1;
  }
  return gpus;
}

/** Slurm's --mem in megabytes (its unit when none is given). */
export function megabytes(mem: string): number {
  const m = /^(\d+)([KMGT]?)$/.exec(mem);
  if (!m) throw new UserError(`--mem ${mem}: not a size such as 8G or 4000M`);
  const n = Number(m[1]);
  return m[2] === 'K' ? Math.ceil(n / 1024) : n * { '': 1, M: 1, G: 1024, T: 1024 * 1024 }[m[2] as '' | 'M' | 'G' | 'T'];
}

/**
 * A Slurm time in seconds, null for none (`infinite`, `UNLIMITED`): `minutes`, `minutes:seconds`,
 * `hours:minutes:seconds`, `days-hours`, `days-hours:minutes`, `days-hours:minutes:seconds`.
 */
export function slurmSeconds(time: string): number | null {
  if (/^(infinite|unlimited)$/i.test(time)) return null;
  const m = /^(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?$/.exec(time);
  if (!m) throw new UserError(`${time}: not a Slurm time such as 24:00:00 or 1-12:00:00`);
  const [days, a, b, c] = [m[1], m[2], m[3], m[4]].map((x) => (x === undefined ? undefined : Number(x)));
  if (days !== undefined) return ((days * 24 + a!) * 60 + (b ?? 0)) * 60 + (c ?? 0);
  if (c !== undefined) return (a! * 60 + b!) * 60 + c;
  if (b !== undefined) return a! * 60 + b;
  return a! * 60;
}

/** sinfo's lines (SINFO_ARGS) as partitions, in the order sinfo lists them. */
export function parseSinfo(text: string): SlurmPartition[] {
  const partitions = new Map<string, { name: string; isDefault: boolean; timeLimit: number | null; nodes: SlurmNode[] }>();
  for (const line of text.split('\n')) {
    const fields = line.trim().split('|');
    if (fields.length !== 6) continue;
    const [p, name, cpus, mem, gres, limit] = fields as [string, string, string, string, string, string];
    const partition = p.replace(/\*$/, '');
    if (!partitions.has(partition)) {
      let timeLimit: number | null = null;
      try {
        timeLimit = slurmSeconds(limit);
      } catch {
        // An unreadable limit is no reason to refuse; the nodes are still checked.
      }
      partitions.set(partition, { name: partition, isDefault: p.endsWith('*'), timeLimit, nodes: [] });
    }
    partitions.get(partition)!.nodes.push({ name, cpus: parseInt(cpus, 10) || 0, memMb: parseInt(mem, 10) || 0, gpus: gresGpus(gres) });
  }
  return [...partitions.values()];
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

/** "a, b and c". */
const and = (parts: readonly string[]): string => (parts.length <= 1 ? parts.join('') : `${parts.slice(0, -1).join(', ')} and ${parts.at(-1)}`);

function describe(n: { cpus: number; memMb: number; gpus: number }, asked: boolean, gpu: boolean): string {
  const gpus = n.gpus === 0 ? (asked ? 'a GPU' : 'no GPU') : asked && n.gpus === 1 ? 'a GPU' : plural(n.gpus, 'GPU');
  return and([plural(n.cpus, 'CPU'), `${n.memMb} MB${asked ? ' of memory' : ''}`, ...(gpu ? [gpus] : [])]);
}

/**
 * Why no node of the request's partition (the default one when none is named) can run a task, in
 * one line, or null when one can. Partition limits beyond nodes and time (MaxCPUsPerNode, QOS,
 * accounts) are not seen by sinfo; Slurm reports them as the pending reason (`sweep status`).
 */
export function unmeetable(partitions: readonly SlurmPartition[], request: TaskRequest): string | null {
  if (partitions.length === 0) return null; // sinfo shows no node (PrivateData): nothing to check against
  const names = partitions.map((p) => p.name).join(', ');
  const partition = request.partition !== undefined ? partitions.find((p) => p.name === request.partition) : partitions.find((p) => p.isDefault);
  if (!partition) {
    return request.partition !== undefined
      ? `--partition ${request.partition}: no such partition with nodes on this cluster; sinfo lists ${names}`
      : `this cluster has no default partition; name one with --partition (${names})`;
  }
  if (request.time !== undefined && partition.timeLimit !== null) {
    const seconds = slurmSeconds(request.time);
    if (seconds !== null && seconds > partition.timeLimit) {
      return `--time ${request.time} is over partition ${partition.name}'s time limit of ${clock(partition.timeLimit)}: ask for at most that, or another --partition`;
    }
  }
  const mem = megabytes(request.mem);
  const fits = (n: SlurmNode): number => Number(n.cpus >= request.cpus) + Number(n.memMb >= mem) + Number(n.gpus >= request.gpus);
  if (partition.nodes.some((n) => fits(n) === 3)) return null;
  // The largest: among nodes with the GPUs asked for, if any, the one that meets most of the
  // request, then the one with most CPUs, memory, GPUs.
  const gpus = (n: SlurmNode): number => Number(n.gpus >= request.gpus);
  const largest = [...partition.nodes].sort((a, b) => gpus(b) - gpus(a) || fits(b) - fits(a) || b.cpus - a.cpus || b.memMb - a.memMb || b.gpus - a.gpus)[0]!;
  const gpu = request.gpus > 0 || partition.nodes.some((n) => n.gpus > 0);
  return `no node of partition ${partition.name} has the ${describe({ cpus: request.cpus, memMb: mem, gpus: request.gpus }, true, request.gpus > 0)} a task asks for (${request.flags}); `
    + `the largest, ${largest.name}, has ${describe(largest, false, gpu)}: ask for less, or another --partition`;
}

/** Seconds as Slurm writes a time: 1-00:00:00, 12:00:00. */
function clock(seconds: number): string {
  const days = Math.floor(seconds / 86400);
  const hms = [Math.floor(seconds / 3600) % 24, Math.floor(seconds / 60) % 60, seconds % 60].map((x) => String(x).padStart(2, '0')).join(':');
  return days > 0 ? `${days}-${hms}` : hms;
}

/**
 * The cluster's partitions from `sinfo`; null when sinfo is not installed (sbatch then speaks for
 * itself). A sinfo that cannot reach the controller is refused here, before anything is written.
 */
export function readPartitions(env: NodeJS.ProcessEnv = process.env): SlurmPartition[] | null {
  const r = spawnSync('sinfo', SINFO_ARGS, { encoding: 'utf8', env });
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT') return null;
  if (r.error || r.status !== 0) {
    const said = (r.stderr || r.stdout || String(r.error ?? '')).trim().split('\n').at(-1) || `exit status ${r.status}`;
    throw new UserError(`--engine slurm: sinfo cannot tell what the partitions offer (${said}); is this a Slurm login node?`);
  }
  return parseSinfo(r.stdout);
}
