/**
 * Which experiments `gle run --backend webgpu` runs, decided before a run directory exists: the device path
 * (src/learn/gpu-trainer.ts) trains dense GLE networks with the transpose feedback in float32, and the classify task
 * drives it (src/learn/gpu-classify.ts). Anything else is refused with one line naming what is not supported on
 * webgpu — never a silent fallback to a CPU backend.
 */
import { JsBackend } from '../kernels/js/index.js';
import { gpuUnsupported } from '../learn/gpu-trainer.js';
import { GLENetwork } from '../model/network.js';
import type { NetworkSpecInput } from '../model/spec.js';
import type { ExperimentDef } from './types.js';

/** What each task not wired to the device runs that the device path lacks. */
const NOT_ON_DEVICE: Record<string, string> = {
  'teacher-student': 'the teacher-student task (a host-stepped teacher, windowed BPTT/adjoint rules, parameters logged at every logging point) is not wired to the device yet',
  spiking: 'spiking networks (SAL) are not supported on webgpu',
  backprop: 'the backprop baselines (MLP/TCN/GRU) are not supported on webgpu',
  microcircuit: 'dendritic microcircuits (PAL) are not supported on webgpu',
  le: 'the LE task keeps its host backend for the BP twin and data; run its LE network on the device with --set device=webgpu (and --backend js|wasm|native for the host)',
  vle: 'explicit populations and learned feedback (VLE) are not supported on webgpu',
};

/** The tasks whose loop drives the device path. */
export const WEBGPU_TASKS: readonly string[] = ['classify'];

/**
 * Why experiment `def` with these (validated) params cannot run on webgpu, or null when it can. `params.network`
 * of the classify task is built once on the js backend at batch size 1 to check its layers (dense, GLE population,
 * transpose feedback, float32); a fixed front end (mnist1d-lagnet) runs on the host and may be any network.
 */
export function webgpuRefusal(def: ExperimentDef, params: Record<string, unknown>): string | null {
  const what = `${def.name} (task ${def.task})`;
  if (!WEBGPU_TASKS.includes(def.task)) return `${what} does not run on webgpu: ${NOT_ON_DEVICE[def.task] ?? 'not wired to the device'}`;
  const spec = params.network as NetworkSpecInput & { dtype?: string };
  if (spec.dtype === 'float64') return `${what} does not run on webgpu: the webgpu backend runs float32 only (drop --dtype float64)`;
  const net = new GLENetwork({ ...spec, dtype: 'float32' }, new JsBackend('float32'), { batchSize: 1 });
  const why = gpuUnsupported(net);
  return why ? `${what} does not run on webgpu: ${why}` : null;
}
