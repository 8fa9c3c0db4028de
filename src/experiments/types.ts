/**
 * An experiment is data: a name, a one-line description, the task that runs it, its parameters (any of which
 * `--set key=value` overrides) and the overrides `--quick` applies. Tasks are the shared runners:
 * `teacher-student` (a student learns online to mimic a fixed teacher network on a stream) and `classify`
 * (a network learns online to classify sequences streamed one step per dt; epochs, test evaluation, checkpoints).
 */
import type { NetworkSpecInput } from '../model/spec.js';
import type { BackendName } from '../kernels/index.js';
import type { BackpropParams } from '../baselines/task.js';
import type { z } from 'zod';
import type { Backend } from '../kernels/types.js';
import type { MetricsLog } from '../report/metrics.js';
import type { Progress } from '../report/progress.js';
import type { CheckpointPart } from '../io/checkpoint.js';
import type { GLENetwork } from '../model/network.js';
import type { Learner } from '../learn/learner.js';
import type { classifySchema, teacherStudentSchema } from './schemas.js';
import type { WebGpuEngine } from '../kernels/webgpu/engine.js';

export type Rule = TeacherStudentParams['model'];

/** The teacher–student task's parameters (their schema, with the meaning of each: ./schemas.ts). */
export type TeacherStudentParams = z.output<typeof teacherStudentSchema>;
/** The classify task's parameters (their schema: ./schemas.ts). */
export type ClassifyParams = z.output<typeof classifySchema>;

export interface ExperimentDef<P = TeacherStudentParams | ClassifyParams | BackpropParams> {
  name: string;
  description: string;
  task: 'teacher-student' | 'classify' | 'spiking' | 'backprop' | 'microcircuit' | 'le' | 'vle';
  params: P;
  /** overrides applied by --quick */
  quick: Record<string, unknown>;
}

export interface RunOptions {
  experiment: string;
  seed?: number;
  out?: string;
  quick?: boolean;
  set?: string[];
  /** 'webgpu': the device path (dense GLE, classify task; webgpu-support.ts), refused with one line elsewhere */
  backend?: BackendName | 'webgpu';
  dtype?: 'float32' | 'float64';
  resume?: string;
  /** progress display: auto (bar on a TTY), plain lines, or off */
  progress?: 'auto' | 'plain' | 'off';
  /** stop after this many wall seconds (still writing every output) */
  maxSeconds?: number;
  /** teacher-student runs: save a checkpoint at the first logging point after this many seconds (default 60; 0 = at every one) */
  checkpointSeconds?: number;
}

export interface RunSummary {
  experiment: string;
  seed: number;
  dir: string;
  final: Record<string, number>;
  wall_s: number;
  /** all steps of the run (also those before a resume) */
  steps: number;
  /** steps run by this invocation (steps_per_s is over these) */
  session_steps?: number;
  /** steps per second while stepping (the progress display's rate); wall_s also counts setup, evaluation, figures */
  steps_per_s: number;
  backend: string;
  interrupted: boolean;
  [k: string]: unknown;
}

/**
 * What the runner (runner.ts) hands a task: the run's directory, seed, validated parameters (`P`: the task's schema
 * output, ./schemas.ts), backend, metrics log, and the services every task shares (progress, figures, checkpoints,
 * the divergence guard, the stop flag). Tasks import this type from here, never the runner itself.
 */
export interface RunContext<P = Record<string, unknown>> {
  readonly dir: string;
  readonly seed: number;
  readonly quick: boolean;
  readonly params: P;
  readonly backend: Backend;
  /**
   * `--backend webgpu`: the device the task trains on (src/learn/gpu-classify.ts); `backend` is then the host's
   * float32 CPU backend (the host copy of the network, a fixed front end). null on the CPU backends.
   */
  readonly gpu?: WebGpuEngine | null;
  readonly metrics: MetricsLog;
  readonly resumeFrom: string | null;
  /** true once Ctrl-C or the time limit asked to stop */
  stopRequested(): boolean;
  /**
   * Let the event loop run (signal handlers, I/O). The step loops are synchronous, so a task must await this
   * every few thousand steps, or Ctrl-C is only seen when the run ends.
   */
  breathe(): Promise<void>;
  /** `checkEvery`: how many update() calls between clock reads (1 when each call covers a lot of work) */
  progress(total: number, label: string, unit?: string, checkEvery?: number): Progress;
  figure(name: string, svg: string): void;
  /** a new backend of the same kind (for a second network such as a teacher) */
  newBackend(): Promise<Backend>;
  log(msg: string): void;
  /**
   * Save the run's checkpoint (DIR/checkpoint, atomically as a whole, with `parts` such as a teacher in it); the
   * number of metric records so far is stored with it so a resume can cut the log back to this point.
   */
  saveCheckpoint(net: GLENetwork, learner: Learner | null, extra: Record<string, unknown>, parts?: Record<string, CheckpointPart>): void;
  /**
   * Save a task's own checkpoint files (DIR/checkpoint, atomically as a whole, `meta.json` written last from `meta`);
   * `meta.extra` gets the number of metric records so far, and should carry `step` (and `epoch`) for the record.
   */
  saveCheckpointFiles(files: Record<string, Uint8Array | string>, meta: Record<string, unknown> & { extra?: Record<string, unknown> }): void;
  /** whether a periodic checkpoint is due (--checkpoint-seconds since the last one) */
  checkpointDue(): boolean;
  /** Stop the run (DivergenceError, exit 3) if `loss` or anything in `net` is not finite. */
  guard(loss: number, net: GLENetwork, learner: Learner | null, at: { step: number; unit: 'step' | 'epoch' }): void;
}

/** What a task returns: the summary's `final` numbers, the steps this invocation ran (and all, with earlier sessions). */
export interface TaskResult {
  final: Record<string, number>;
  steps: number;
  totalSteps?: number;
  extra?: Record<string, unknown>;
}

/** A task: the shared runner for a kind of experiment (`ExperimentDef.task`), given validated params of type P. */
export type TaskFn<P = Record<string, unknown>> = (ctx: RunContext<P>) => Promise<TaskResult>;
