// What sinfo says the partitions offer, and the one line for a task no node can run. The same
// refusal on a real Slurm: slurm.test.ts.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { gresGpus, megabytes, parseSinfo, slurmSeconds, unmeetable } from '../../src/study/slurm-nodes.ts';
import type { TaskRequest } from '../../src/study/slurm-nodes.ts';

// `sinfo -h -N -a -o '%P|%N|%c|%m|%G|%l'` of a cluster with a CPU partition (the default), a GPU
// partition sharing one node with it, and a short partition.
const SINFO = [
  'cpu*|c01|32|128000|(null)|2-00:00:00',
  'cpu*|c02|64|256000|(null)|2-00:00:00',
  'gpu|g01|16|192000|gpu:a100:4(S:0-1)|1-00:00:00',
  'gpu|g02|32|96000|gpu:v100:2,gpu:t4:1(S:0,1),mps:200|1-00:00:00',
  'gpu|c02|64|256000|(null)|1-00:00:00',
  'short|c01|32|128000|(null)|30:00',
  'debug|vm|2|23593|gpu:1|infinite',
  '',
].join('\n');

const ask = (o: Partial<TaskRequest>): TaskRequest => ({ cpus: 4, mem: '8G', gpus: 0, flags: '--cpus-per-task 4, --mem 8G', ...o });

describe('sinfo', () => {
  it('reads partitions, the default one, their time limits and nodes', () => {
    const p = parseSinfo(SINFO);
    assert.deepEqual(p.map((x) => [x.name, x.isDefault, x.timeLimit, x.nodes.map((n) => n.name).join(',')]), [
      ['cpu', true, 2 * 86400, 'c01,c02'],
      ['gpu', false, 86400, 'g01,g02,c02'],
      ['short', false, 1800, 'c01'],
      ['debug', false, null, 'vm'],
    ]);
    assert.deepEqual(p[1]!.nodes[1], { name: 'g02', cpus: 32, memMb: 96000, gpus: 3 });
  });

  it('counts GPUs in GRES: typed or not, socket lists, other resources, none', () => {
    assert.equal(gresGpus('(null)'), 0);
    assert.equal(gresGpus('gpu:2'), 2);
    assert.equal(gresGpus('gpu:a100:4(S:0-1)'), 4);
    assert.equal(gresGpus('gpu:v100:2,gpu:t4:1(S:0,1),mps:200'), 3);
    assert.equal(gresGpus('gpu'), 1);
    assert.equal(gresGpus('mps:100,shard:8'), 0);
  });

  it('reads --mem in MB and Slurm times in seconds', () => {
    assert.deepEqual(['8G', '4000M', '4000', '1T', '2048K', '1K'].map(megabytes), [8192, 4000, 4000, 1048576, 2, 1]);
    assert.deepEqual(['30', '30:15', '12:00:00', '1-12', '1-12:30', '2-00:00:00'].map(slurmSeconds), [1800, 1815, 43200, 129600, 131400, 172800]);
    assert.equal(slurmSeconds('infinite'), null);
    assert.equal(slurmSeconds('UNLIMITED'), null);
  });
});

describe('unmeetable', () => {
  const partitions = parseSinfo(SINFO);

  it('lets through a task one node can run, in the default or the named partition', () => {
    assert.equal(unmeetable(partitions, ask({})), null);
    assert.equal(unmeetable(partitions, ask({ cpus: 64, mem: '250G' })), null);
    assert.equal(unmeetable(partitions, ask({ partition: 'gpu', cpus: 16, mem: '180G', gpus: 1, time: '24:00:00' })), null);
    assert.equal(unmeetable(partitions, ask({ partition: 'debug', cpus: 2, mem: '20G', gpus: 1, time: '100-00:00:00' })), null);
    assert.equal(unmeetable([], ask({ cpus: 1000 })), null, 'nothing to check against');
  });

  it('names the largest node when none has the CPUs, memory or GPU', () => {
    assert.equal(unmeetable(partitions, ask({ cpus: 128, flags: '--cpus-per-task 128, --mem 8G' })),
      'no node of partition cpu has the 128 CPUs and 8192 MB of memory a task asks for (--cpus-per-task 128, --mem 8G); the largest, c02, has 64 CPUs and 256000 MB: ask for less, or another --partition');
    // The GPU nodes meet the GPU, so the largest of them is named, not the 64-CPU node without one.
    assert.equal(unmeetable(partitions, ask({ partition: 'gpu', cpus: 48, mem: '100G', gpus: 1, flags: '--cpus-per-task 48, --mem 100G, --device' })),
      'no node of partition gpu has the 48 CPUs, 102400 MB of memory and a GPU a task asks for (--cpus-per-task 48, --mem 100G, --device); the largest, g01, has 16 CPUs, 192000 MB and 4 GPUs: ask for less, or another --partition');
    assert.equal(unmeetable(partitions, ask({ gpus: 1, flags: 'f' })),
      'no node of partition cpu has the 4 CPUs, 8192 MB of memory and a GPU a task asks for (f); the largest, c02, has 64 CPUs, 256000 MB and no GPU: ask for less, or another --partition');
  });

  it('refuses a --time over the partition\'s limit, an unknown partition, and no partition where none is the default', () => {
    assert.equal(unmeetable(partitions, ask({ partition: 'short', time: '1:00:00' })), '--time 1:00:00 is over partition short\'s time limit of 00:30:00: ask for at most that, or another --partition');
    assert.equal(unmeetable(partitions, ask({ time: '3-00:00:00' })), '--time 3-00:00:00 is over partition cpu\'s time limit of 2-00:00:00: ask for at most that, or another --partition');
    assert.equal(unmeetable(partitions, ask({ partition: 'gpus' })), '--partition gpus: no such partition with nodes on this cluster; sinfo lists cpu, gpu, short, debug');
    assert.equal(unmeetable(parseSinfo('a|n1|8|1000|(null)|infinite\nb|n2|8|1000|(null)|infinite'), ask({})), 'this cluster has no default partition; name one with --partition (a, b)');
  });
});
