/**
 * Cluster executors as files the cluster's own scheduler runs (Node only): every task runs
 * `gle sweep run DIR --index i` for its row, so a requeued, retried or repeated task skips a finished row and
 * resumes an interrupted one.
 *
 *  - Slurm: an `sbatch --array` script, array index = row, `%throttle` tasks at once, `--requeue` so a preempted
 *    task goes back to the queue, and a signal shortly before the time limit on which the task stops cleanly
 *    (keeping its checkpoint) and requeues itself.
 *  - Kubernetes: a batch/v1 Job with completionMode Indexed (JOB_COMPLETION_INDEX = row), a backoff limit per
 *    index (evictions and preemptions do not count: podFailurePolicy), and a shared volume (a
 *    PersistentVolumeClaim) holding the sweep directory.
 */
import type { V1Job } from '@kubernetes/client-node';
import { stringify as toYaml } from 'yaml';
import { UserError } from '../util/errors.js';
import type { Sweep } from './dir.js';

/** The marker on the one line of the Slurm script that runs the row (tests run that line). */
export const SLURM_TASK_MARK = '# gle: per-task command';

function shq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

function checkName(what: string, v: string, re: RegExp): string {
  if (!re.test(v)) throw new UserError(`${what} '${v}' is not allowed here (expected ${re.source})`);
  return v;
}

export interface SlurmOptions {
  /** tasks at once (the array's %throttle) */
  throttle?: number;
  /** per-task time limit, Slurm format (e.g. 04:00:00) */
  time?: string;
  cpus?: number;
  mem?: string;
  partition?: string;
  /** how the cluster starts gle (default: gle on PATH); may hold words, e.g. "npx gle" */
  gle?: string;
  /** seconds before the time limit at which the task stops and requeues itself */
  signalSeconds?: number;
}

export function slurmScript(sw: Sweep, o: SlurmOptions = {}): string {
  const n = sw.rows.length;
  const throttle = o.throttle ?? Math.min(n, 32);
  if (!Number.isInteger(throttle) || throttle < 1) throw new UserError(`--throttle must be a positive integer, got ${o.throttle}`);
  const time = checkName('--time', o.time ?? '04:00:00', /^(\d+-)?\d{1,3}(:\d{2}){0,2}$/);
  const cpus = o.cpus ?? 1;
  const lines = [
    '#!/bin/bash',
    `#SBATCH --job-name=${checkName('sweep name', `gle-${sw.name}`, /^[\w.-]+$/)}`,
    `#SBATCH --array=0-${n - 1}%${throttle}`,
    `#SBATCH --cpus-per-task=${cpus}`,
    `#SBATCH --time=${time}`,
    ...(o.mem ? [`#SBATCH --mem=${checkName('--mem', o.mem, /^\d+[KMGT]?$/)}`] : []),
    ...(o.partition ? [`#SBATCH --partition=${checkName('--partition', o.partition, /^[\w,.-]+$/)}`] : []),
    '#SBATCH --requeue',
    `#SBATCH --signal=B:USR1@${o.signalSeconds ?? 300}`,
    `#SBATCH --output=${sw.dir.replace(/\s/g, '_')}/logs/slurm-%A_%a.out`,
    `# gle sweep '${sw.name}': ${n} rows; array index = row index. Submit with: sbatch THIS_FILE`,
    '# A task runs `gle sweep run DIR --index $SLURM_ARRAY_TASK_ID`: a finished row is skipped, an interrupted one',
    '# resumes from its checkpoint. Preempted tasks are requeued by Slurm (--requeue); near the time limit the task',
    '# stops cleanly on USR1 and requeues itself.',
    'set -euo pipefail',
    '',
    `SWEEP_DIR=${shq(sw.dir)}`,
    `read -r -a GLE_CMD <<< "\${GLE:-${(o.gle ?? 'gle').replace(/["$`\\]/g, '')}}"`,
    `export GLE_NATIVE_THREADS="\${SLURM_CPUS_PER_TASK:-${cpus}}"`,
    'mkdir -p "$SWEEP_DIR/logs"',
    '',
    'requeue() {',
    '  echo "gle: time limit near; stopping row ${SLURM_ARRAY_TASK_ID} and requeueing" >&2',
    '  kill -INT "$child" 2>/dev/null || true',
    '  wait "$child" || true',
    '  if command -v scontrol >/dev/null 2>&1; then',
    '    scontrol requeue "${SLURM_ARRAY_JOB_ID:-0}_${SLURM_ARRAY_TASK_ID}"',
    '  fi',
    '  exit 0',
    '}',
    'trap requeue USR1',
    '',
    `"\${GLE_CMD[@]}" sweep run "$SWEEP_DIR" --index "\${SLURM_ARRAY_TASK_ID}" --progress plain & ${SLURM_TASK_MARK}`,
    'child=$!',
    'wait "$child"',
    '',
  ];
  return lines.join('\n');
}

export interface K8sOptions {
  image?: string;
  /** a PersistentVolumeClaim holding the sweep directory (ReadWriteMany when pods share nodes' storage) */
  pvc?: string;
  /** where the volume is mounted in the pod */
  mountPath?: string;
  /** the sweep directory inside the pod (default: mountPath/<sweep dir's base name>) */
  podDir?: string;
  parallelism?: number;
  backoffPerIndex?: number;
  cpu?: string;
  memory?: string;
  /** how the image starts gle (default ["gle"]) */
  gle?: string[];
}

/** The Job as a plain object (typed against the client's V1Job inside; the declaration files do not need the client). */
export function k8sJob(sw: Sweep, o: K8sOptions = {}): Record<string, unknown> {
  const n = sw.rows.length;
  const name = checkName('job name', `gle-sweep-${sw.name}`.toLowerCase().replace(/[^a-z0-9-]/g, '-').slice(0, 63).replace(/-+$/, ''), /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
  const mountPath = o.mountPath ?? '/sweeps';
  const base = sw.dir.replace(/\/+$/, '').split('/').pop()!;
  const podDir = o.podDir ?? `${mountPath}/${base}`;
  const parallelism = o.parallelism ?? Math.min(n, 32);
  if (!Number.isInteger(parallelism) || parallelism < 1) throw new UserError(`--parallelism must be a positive integer, got ${o.parallelism}`);
  const job: V1Job = {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name, labels: { app: 'gle-sweep', 'gle/sweep': name.slice(0, 63) } },
    spec: {
      completionMode: 'Indexed',
      completions: n,
      parallelism,
      backoffLimitPerIndex: o.backoffPerIndex ?? 3,
      maxFailedIndexes: n,
      // a pod evicted or preempted is not a failure of its row: it is retried without using up the backoff
      podFailurePolicy: { rules: [{ action: 'Ignore', onPodConditions: [{ type: 'DisruptionTarget', status: 'True' }] }] },
      template: {
        metadata: { labels: { app: 'gle-sweep' } },
        spec: {
          restartPolicy: 'Never',
          containers: [
            {
              name: 'gle',
              image: o.image ?? 'gle:latest',
              // no --index: `gle sweep run` reads the row from JOB_COMPLETION_INDEX
              command: [...(o.gle ?? ['gle']), 'sweep', 'run', podDir, '--progress', 'plain'],
              env: [{ name: 'GLE_NATIVE_THREADS', value: '1' }],
              resources: { requests: { cpu: o.cpu ?? '1', memory: o.memory ?? '2Gi' }, limits: { memory: o.memory ?? '2Gi' } },
              volumeMounts: [{ name: 'sweep', mountPath }],
            },
          ],
          volumes: [{ name: 'sweep', persistentVolumeClaim: { claimName: o.pvc ?? 'gle-sweeps' } }],
        },
      },
    },
  };
  return job as unknown as Record<string, unknown>;
}

export function k8sManifest(sw: Sweep, o: K8sOptions = {}): string {
  return `# gle sweep '${sw.name}': ${sw.rows.length} rows as a Kubernetes Indexed Job (JOB_COMPLETION_INDEX = row).\n# Copy the sweep directory onto the volume first; apply with: kubectl apply -f THIS_FILE\n${toYaml(k8sJob(sw, o))}`;
}
