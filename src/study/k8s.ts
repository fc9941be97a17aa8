/**
 * The Kubernetes engine: a sweep as one Indexed Job (batch/v1, `completionMode: Indexed`): pod i
 * gets JOB_COMPLETION_INDEX=i and runs `senet-ort sweep task <sweep>`. The sweep folder lives on
 * a PersistentVolumeClaim mounted at the same path it has where the sweep was planned (run
 * folders record absolute paths), so plan the sweep on a machine or pod that mounts the claim there.
 *
 * The manifest is built from the typed objects below (the subset of the Kubernetes API a Job
 * needs, field names and types as in the API reference) and written as JSON, which `kubectl apply -f`
 * reads as it reads YAML: <sweep>/k8s/job.json.
 */
import { join } from 'node:path';
import { expected } from '../errors.ts';
import { writeFileAtomic } from '../util/atomic.ts';
import type { SweepPlan } from './sweep.ts';
import { CPUS_PER_TASK } from './sweep.ts';

export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/** Quantities as strings: "4", "500m", "8Gi". */
export interface ResourceRequirements {
  requests?: Record<string, string>;
  limits?: Record<string, string>;
}

export interface EnvVar {
  name: string;
  value?: string;
}

export interface VolumeMount {
  name: string;
  mountPath: string;
  readOnly?: boolean;
}

export interface Container {
  name: string;
  image: string;
  imagePullPolicy?: 'Always' | 'IfNotPresent' | 'Never';
  command?: string[];
  args?: string[];
  workingDir?: string;
  env?: EnvVar[];
  resources?: ResourceRequirements;
  volumeMounts?: VolumeMount[];
}

export interface Volume {
  name: string;
  persistentVolumeClaim?: { claimName: string; readOnly?: boolean };
  emptyDir?: { medium?: string; sizeLimit?: string };
}

export interface PodSpec {
  restartPolicy: 'Never' | 'OnFailure';
  containers: Container[];
  volumes?: Volume[];
  terminationGracePeriodSeconds?: number;
  nodeSelector?: Record<string, string>;
}

export interface PodTemplateSpec {
  metadata?: ObjectMeta;
  spec: PodSpec;
}

export interface JobSpec {
  completionMode: 'NonIndexed' | 'Indexed';
  completions: number;
  parallelism: number;
  /** Retries per index (Kubernetes 1.29+, beta; needs restartPolicy Never). */
  backoffLimitPerIndex?: number;
  backoffLimit?: number;
  ttlSecondsAfterFinished?: number;
  template: PodTemplateSpec;
}

export interface Job {
  apiVersion: 'batch/v1';
  kind: 'Job';
  metadata: ObjectMeta;
  spec: JobSpec;
}

export interface K8sOptions {
  /** The container image with senet-ort as its entrypoint (see the Dockerfile). */
  readonly image?: string;
  /** The PersistentVolumeClaim holding the sweep folder (default senet-ort-sweeps). */
  readonly claim?: string;
  /** Pods at once (default: every task). */
  readonly parallel?: number;
  /** CPU request per pod, also its ONNX Runtime threads (default CPUS_PER_TASK, 4). */
  readonly cpusPerTask?: number;
  /** Memory request and limit, as Slurm's --mem (8G) or a Kubernetes quantity (8Gi) (default 8Gi). */
  readonly mem?: string;
  /** Retries of each index (default 3). */
  readonly backoffLimitPerIndex?: number;
  readonly namespace?: string;
  /** One nvidia.com/gpu per pod (set when the sweep trains with --device cuda or webgpu). */
  readonly gpu?: boolean;
  /**
   * NVIDIA_DRIVER_CAPABILITIES=compute,utility,graphics in the pod (set with --device webgpu): the
   * NVIDIA container runtime mounts the Vulkan driver, through which WebGPU reaches the GPU, only
   * with the graphics capability (CUDA images default to compute,utility).
   */
  readonly graphics?: boolean;
}

/** What the NVIDIA container runtime mounts for a WebGPU (Vulkan) task: CUDA's libraries, nvidia-smi, the Vulkan driver. */
export const WEBGPU_DRIVER_CAPABILITIES = 'compute,utility,graphics';

/** Slurm-style sizes (8G, 4000M) as Kubernetes quantities (8Gi, 4000Mi); Kubernetes ones pass. */
export function quantity(mem: string): string {
  const m = /^(\d+)([KMGT])?(i)?$/.exec(mem);
  if (!m) throw expected('a size such as 8G or 8Gi', '--mem', mem);
  return m[2] ? `${m[1]}${m[2]}i` : m[1]!;
}

/** The Indexed Job running every task of the sweep. */
export function sweepJob(dir: string, plan: SweepPlan, o: K8sOptions = {}): Job {
  const tasks = plan.tasks.length;
  if (o.parallel !== undefined && (!Number.isInteger(o.parallel) || o.parallel < 1)) throw expected('positive integer', '--parallel', o.parallel);
  if (o.cpusPerTask !== undefined && (!Number.isInteger(o.cpusPerTask) || o.cpusPerTask < 1)) throw expected('positive integer', '--cpus-per-task', o.cpusPerTask);
  const cpus = o.cpusPerTask ?? CPUS_PER_TASK;
  const mem = quantity(o.mem ?? '8Gi');
  const gpu: Record<string, string> = o.gpu ? { 'nvidia.com/gpu': '1' } : {};
  const labels = { 'app.kubernetes.io/name': 'senet-ort', 'app.kubernetes.io/component': 'sweep' };
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { generateName: 'senet-ort-sweep-', labels, ...(o.namespace ? { namespace: o.namespace } : {}) },
    spec: {
      completionMode: 'Indexed',
      completions: tasks,
      parallelism: Math.min(tasks, o.parallel ?? tasks),
      backoffLimitPerIndex: o.backoffLimitPerIndex ?? 3,
      template: {
        metadata: { labels },
        spec: {
          restartPolicy: 'Never',
          // SIGTERM stops a task at its next training step; give it time to get there.
          terminationGracePeriodSeconds: 120,
          containers: [{
            name: 'task',
            image: o.image ?? 'senet-ort:latest',
            args: ['sweep', 'task', dir, '--threads', String(cpus)],
            ...(o.graphics ? { env: [{ name: 'NVIDIA_DRIVER_CAPABILITIES', value: WEBGPU_DRIVER_CAPABILITIES }] } : {}),
            resources: { requests: { cpu: String(cpus), memory: mem, ...gpu }, limits: { memory: mem, ...gpu } },
            volumeMounts: [{ name: 'sweep', mountPath: dir }],
          }],
          volumes: [{ name: 'sweep', persistentVolumeClaim: { claimName: o.claim ?? 'senet-ort-sweeps' } }],
        },
      },
    },
  };
}

/** Write k8s/job.json; returns its path. */
export function writeSweepJob(dir: string, plan: SweepPlan, o: K8sOptions = {}): { path: string; job: Job } {
  const job = sweepJob(dir, plan, o);
  const path = join(dir, 'k8s', 'job.json');
  writeFileAtomic(path, `${JSON.stringify(job, null, 2)}\n`);
  return { path, job };
}
