/**
 * Replay an LE golden trace on the webgpu backend: the same network as `replayLeTrace` (built on the js backend in
 * float32 for its initial values), stepped on the device by `GpuLeNetwork` with every recorded quantity logged per
 * step, all steps in one command buffer, compared with the trace after one read-back. argmax compared exactly.
 * Browser-safe.
 */
import { JsBackend } from '../kernels/js/index.js';
import type { GpuCounters, WebGpuEngine } from '../kernels/webgpu/engine.js';
import { GpuLeNetwork } from '../learn/gpu-le.js';
import { LENetwork } from '../model/le-network.js';
import { compareArgmax, compareQuantity, failures, flat, leTraceSpec, type LeTrace, type QuantityReport } from './le-trace.js';

const NEURON_FIELDS = ['u', 'u_dot', 'basal', 'prosp_u', 'prosp_u_m', 'r', 'r_prime', 'e', 'e_bottom'];
const POOL_FIELDS = ['r', 'r_prime', 'e_bottom'];

export async function replayLeTraceGpu(
  g: LeTrace,
  engine: WebGpuEngine,
  atol: number,
  rtol: number,
): Promise<{ net: LENetwork; ok: boolean; scenario: string; steps: number; quantities: Record<string, QuantityReport>; counters: GpuCounters; dispatchesPerStep: number }> {
  const net = new LENetwork(new JsBackend('float32'), leTraceSpec(g), g.batch_size);
  const T = g.n_steps, B = g.batch_size;
  const dev = new GpuLeNetwork(engine, net, { chunk: T, hold: 1 });
  const xs = new Float32Array(T * B * net.nIn), ys = new Float32Array(T * B * net.nOut);
  for (let t = 0; t < T; t++) {
    xs.set(flat(g.inputs[t]), t * B * net.nIn);
    ys.set(flat(g.targets[t]), t * B * net.nOut);
  }
  const dispatchesPerStep = dev.dispatchesPerStep(true);
  const before = { ...engine.counters };
  const res = await dev.run(xs, ys, 1, { trace: true });
  const counters = Object.fromEntries(Object.entries(engine.counters).map(([k, v]) => [k, v - before[k as keyof GpuCounters]])) as unknown as GpuCounters;
  const q: Record<string, QuantityReport> = {};
  const cmp = (key: string, t: number, ref: unknown, got: ArrayLike<number> | undefined) => {
    if (!got) throw new Error(`${key}: not logged on the device`);
    compareQuantity(q, key, t, ref, got, atol, rtol);
  };
  for (let t = 0; t < T; t++) {
    const m = res.trace![t];
    g.layers.forEach((l: { name: string; type: string }, i: number) => {
      const tr = g.trace.layers[i];
      const pre = `${l.name}.`, at = `layer_${i}.`;
      if (l.type === 'maxpool2d') {
        for (const f of POOL_FIELDS) cmp(pre + f, t, tr[f][t], m.get(at + f));
        compareArgmax(q, pre + 'argmax', t, tr.argmax[t], m.get(at + 'argmax')!);
        return;
      }
      for (const f of NEURON_FIELDS) cmp(pre + f, t, tr[f][t], m.get(at + f));
      cmp(pre + 'weight', t, g.trace.params[`${l.name}.weight`][t], m.get(at + 'weight'));
      if (g.trace.params[`${l.name}.bias`]) cmp(pre + 'bias', t, g.trace.params[`${l.name}.bias`][t], m.get(at + 'bias'));
    });
  }
  return { net, ok: failures(q).length === 0, scenario: String(g.scenario ?? 'le'), steps: T, quantities: q, counters, dispatchesPerStep };
}
