/**
 * An experiment is data: a name, a one-line description, the task that runs it, its parameters (any of which
 * `--set key=value` overrides) and the overrides `--quick` applies. Tasks are the shared runners:
 * `teacher-student` (a student learns online to mimic a fixed teacher network on a stream) and `classify`
 * (a network learns online to classify sequences streamed one step per dt; epochs, test evaluation, checkpoints).
 */
import type { NetworkSpecInput } from '../model/spec.js';
import type { BackendName } from '../kernels/index.js';
import type { BackpropParams } from '../baselines/task.js';

export type Rule = 'gle' | 'bp' | 'bptt-tw1' | 'bptt-tw2' | 'bptt-tw4' | 'am';

export interface TeacherStudentParams {
  /** the learning rule of the student */
  model: Rule;
  dt: number;
  batch: number;
  /** the teacher; the student is the same spec with prospective errors per `model` and randomised parameters */
  teacher: NetworkSpecInput;
  /** student parameters drawn U[lo, hi) from the seed (e.g. "layer_0.weight") */
  randomise: { names: string[]; lo: number; hi: number };
  /** explicit initial values for student tensors, applied after randomisation (e.g. the reference's seed-0 draw) */
  studentInit: Record<string, number[]> | null;
  /** named initial values instead of the random draw: 'reference-seed0' = the reference's torch seed-0 draw (LagLine) */
  initPreset: 'random' | 'reference-seed0';
  /** parameters the student learns: weights of these layers (others frozen) */
  learnLayers: number[] | 'all';
  student: { gamma?: number[]; beta: number; learn_tau: boolean; bias?: boolean };
  input: { type: 'square'; width: number; period: number; sigma: number; maxShift: number } | { type: 'sines'; omegas: number[]; amps?: number[]; phases?: number[] };
  /** steps without learning; during the first `initTeacherTau` of them the student uses the teacher's tau_m */
  initSteps: number;
  initTeacherTau: number;
  trainSteps: number;
  optimizer: { type: 'adam'; lrTimesBeta: number } | { type: 'sgd'; lrTimesBeta: number; momentum: number; lrTimesBetaOverDt?: boolean };
  /** for the adjoint rule ('am') and windowed rules: window in time units */
  amWindow: number;
  amLr?: number;
  clampTauMin: number | null;
  logEvery: number;
  /** after training: compare GLE errors with adjoints over this many steps (a power of two); null = skip */
  analysisSteps: number | null;
  /** time-unit windows for the final loss figures */
  finalWindows: number[];
}

export interface ClassifyParams {
  dataset: 'mnist1d' | 'speech-commands';
  /** data location (default: the shipped MNIST-1D; the speech set needs --data or --set data=PATH) */
  data: string | null;
  dt: number;
  epochs: number;
  batch: number;
  testBatch: number;
  /** a fixed front end stepped before the classifier, reset at every batch (MNIST-1D static LagNet) */
  frontend: NetworkSpecInput | null;
  network: NetworkSpecInput;
  /** limit the samples per split (quick runs); 0 = all */
  maxTrain: number;
  maxTest: number;
  /** the split the scheduler watches and the headline accuracy is read from */
  evalSplit: 'test' | 'val';
  /** evaluate on the training set too at each epoch (costly) */
  evalTrain: boolean;
  /** checkpoint every this many epochs (and at the end) */
  checkpointEvery: number;
  /** speech: how many data loader clips to featurise ahead; mnist1d ignores it */
  featureCache: string | null;
}

export interface ExperimentDef<P = TeacherStudentParams | ClassifyParams | BackpropParams> {
  name: string;
  description: string;
  task: 'teacher-student' | 'classify' | 'spiking' | 'backprop' | 'vle';
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
  backend?: BackendName;
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
