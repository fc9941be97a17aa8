// The part of the Kubernetes batch/v1 Job schema a sweep's manifest uses, written from the API
// reference (io.k8s.api.batch.v1.Job and the core/v1 types under it), and a checker for it:
// types, enums, required fields and unknown fields (which `kubectl apply --validate=strict`
// refuses), plus the Job rules the API server enforces on these fields. Offline, no cluster.

type Schema =
  | { readonly type: 'object'; readonly properties: Readonly<Record<string, Schema>>; readonly required?: readonly string[] }
  | { readonly type: 'map'; readonly values: Schema }
  | { readonly type: 'array'; readonly items: Schema }
  | { readonly type: 'string'; readonly enum?: readonly string[] }
  | { readonly type: 'integer'; readonly minimum?: number }
  | { readonly type: 'boolean' }
  /** resource.Quantity: a string such as "500m" or "8Gi", or a number. */
  | { readonly type: 'quantity' };

const str: Schema = { type: 'string' };
const int0: Schema = { type: 'integer', minimum: 0 };
const bool: Schema = { type: 'boolean' };
const strings: Schema = { type: 'array', items: str };
const labels: Schema = { type: 'map', values: str };
const obj = (properties: Record<string, Schema>, required: string[] = []): Schema => ({ type: 'object', properties, required });

const objectMeta = obj({ name: str, generateName: str, namespace: str, labels, annotations: labels });
const resources = obj({ limits: { type: 'map', values: { type: 'quantity' } }, requests: { type: 'map', values: { type: 'quantity' } } });
// The API marks only `name` required; pod validation also requires `image` for a Job's containers.
const container = obj({
  name: str,
  image: str,
  imagePullPolicy: { type: 'string', enum: ['Always', 'IfNotPresent', 'Never'] },
  command: strings,
  args: strings,
  workingDir: str,
  env: { type: 'array', items: obj({ name: str, value: str }, ['name']) },
  resources,
  volumeMounts: { type: 'array', items: obj({ name: str, mountPath: str, readOnly: bool, subPath: str }, ['name', 'mountPath']) },
}, ['name', 'image']);
const volume = obj({
  name: str,
  persistentVolumeClaim: obj({ claimName: str, readOnly: bool }, ['claimName']),
  emptyDir: obj({ medium: str, sizeLimit: { type: 'quantity' } }),
}, ['name']);
const podSpec = obj({
  restartPolicy: { type: 'string', enum: ['Always', 'OnFailure', 'Never'] },
  containers: { type: 'array', items: container },
  volumes: { type: 'array', items: volume },
  terminationGracePeriodSeconds: int0,
  nodeSelector: labels,
  serviceAccountName: str,
}, ['containers']);
const jobSpec = obj({
  completionMode: { type: 'string', enum: ['NonIndexed', 'Indexed'] },
  completions: int0,
  parallelism: int0,
  backoffLimit: int0,
  backoffLimitPerIndex: int0,
  maxFailedIndexes: int0,
  activeDeadlineSeconds: { type: 'integer', minimum: 1 },
  ttlSecondsAfterFinished: int0,
  suspend: bool,
  template: obj({ metadata: objectMeta, spec: podSpec }, ['spec']),
}, ['template']);
export const JOB_SCHEMA: Schema = obj({ apiVersion: { type: 'string', enum: ['batch/v1'] }, kind: { type: 'string', enum: ['Job'] }, metadata: objectMeta, spec: jobSpec }, ['apiVersion', 'kind', 'spec']);

const shown = (v: unknown): string => JSON.stringify(v);

function check(schema: Schema, value: unknown, path: string, errors: string[]): void {
  const fail = (what: string): void => void errors.push(`${path}: expected ${what} but received ${shown(value)}`);
  switch (schema.type) {
    case 'object': {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) return fail('object');
      const v = value as Record<string, unknown>;
      for (const [key, sub] of Object.entries(schema.properties)) {
        if (v[key] === undefined) {
          if (schema.required?.includes(key)) errors.push(`${path}.${key}: required`);
        } else {
          check(sub, v[key], `${path}.${key}`, errors);
        }
      }
      for (const key of Object.keys(v)) if (!(key in schema.properties)) errors.push(`${path}.${key}: unknown field`);
      return;
    }
    case 'map':
      if (typeof value !== 'object' || value === null || Array.isArray(value)) return fail('object');
      for (const [key, sub] of Object.entries(value)) check(schema.values, sub, `${path}.${key}`, errors);
      return;
    case 'array':
      if (!Array.isArray(value)) return fail('array');
      value.forEach((item, i) => check(schema.items, item, `${path}[${i}]`, errors));
      return;
    case 'string':
      if (typeof value !== 'string') return fail('string');
      if (schema.enum && !schema.enum.includes(value)) fail(`one of ${schema.enum.join(', ')}`);
      return;
    case 'integer':
      if (typeof value !== 'number' || !Number.isInteger(value)) return fail('integer');
      if (schema.minimum !== undefined && value < schema.minimum) fail(`integer of at least ${schema.minimum}`);
      return;
    case 'boolean':
      if (typeof value !== 'boolean') fail('true or false');
      return;
    case 'quantity':
      if (!(typeof value === 'number' || (typeof value === 'string' && /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+|[numkMGTPE]|[KMGTPE]i)?$/.test(value)))) fail('a quantity such as 500m or 8Gi');
      return;
  }
}

/** Every problem of a Job manifest, as "path: what" lines; empty when it is valid. */
export function checkJob(job: unknown): string[] {
  const errors: string[] = [];
  check(JOB_SCHEMA, job, 'job', errors);
  const spec = (job as { spec?: { completionMode?: string; completions?: number; backoffLimitPerIndex?: number; template?: { spec?: { restartPolicy?: string; containers?: unknown[] } } } }).spec;
  // Rules of the API server's Job validation on these fields.
  const restart = spec?.template?.spec?.restartPolicy;
  if (restart !== 'Never' && restart !== 'OnFailure') errors.push('spec.template.spec.restartPolicy: a Job needs Never or OnFailure');
  if (spec?.completionMode === 'Indexed' && spec.completions === undefined) errors.push('spec.completions: required with completionMode Indexed');
  if (spec?.backoffLimitPerIndex !== undefined && (spec.completionMode !== 'Indexed' || restart !== 'Never')) errors.push('spec.backoffLimitPerIndex: needs completionMode Indexed and restartPolicy Never');
  if ((spec?.template?.spec?.containers ?? []).length === 0) errors.push('spec.template.spec.containers: at least one container');
  return errors.map((e) => e.replace(/^job\./, ''));
}
