/**
 * Replay a golden trace on the webgpu backend: the same network and learner as `replayTrace` (built on the js backend
 * in float32 for its initial values), stepped on the device by `GpuTrainer` with every field logged per step, all
 * steps in one command buffer, compared with the trace after one read-back.
 */
import { JsBackend } from '../kernels/js/index.js';
import type { WebGpuEngine } from '../kernels/webgpu/engine.js';
import { GpuTrainer } from '../learn/gpu-trainer.js';
import { Learner } from '../learn/learner.js';
import { GLENetwork } from '../model/network.js';
import { flattenNested } from '../util/nested.js';
import { Comparator, type GoldenTrace, LAYER_FIELDS, nest, recordTrace, type ReplayReport, shaped, targetArg, traceToSpec } from './trace.js';

export async function replayTraceGpu(g: GoldenTrace, engine: WebGpuEngine, atol: number, rtol: number): Promise<ReplayReport & { counters: WebGpuEngine['counters'] }> {
  const spec = traceToSpec(g, 'float32', 'js');
  const net = new GLENetwork(spec, new JsBackend('float32'), { computeInputError: true, batchSize: g.batch_size });
  const learner = new Learner(net);
  const T = g.n_steps, L = g.layers.length, B = g.batch_size;
  const tr = new GpuTrainer(engine, learner, { chunk: T, computeInputError: true });
  const x = new Float32Array(T * B * net.nIn);
  for (let t = 0; t < T; t++) x.set(flattenNested(g.inputs[t]), t * B * net.nIn);
  const targets = Array.from({ length: T }, (_, t) => targetArg(g, t));
  const before = { ...engine.counters };
  const res = await tr.run(x, targets, { trace: true });
  const counters = Object.fromEntries(Object.entries(engine.counters).map(([k, v]) => [k, v - before[k as keyof typeof before]])) as unknown as WebGpuEngine['counters'];
  const cmp = new Comparator(atol, rtol);
  const lossArr = [0];
  for (let t = 0; t < T; t++) {
    const m = res.trace![t];
    cmp.add('output', m.get('output')!, flattenNested(g.trace.output[t]), t);
    const lref = g.trace.loss[t];
    if (typeof lref === 'number') {
      lossArr[0] = res.loss[t];
      cmp.add('loss', lossArr, [lref], t);
    }
    for (let l = 0; l < L; l++) {
      const rec = g.trace.layers[l];
      for (const f of LAYER_FIELDS) if (rec[f]) cmp.add(`layer_${l}.${f}`, m.get(`layer_${l}.${f}`)!, flattenNested(rec[f][t]), t);
    }
    for (const n of Object.keys(g.trace.grads)) {
      const v = m.get(`grad ${n}`);
      if (!v) throw new Error(`trace records a gradient for '${n}', which this network does not learn`);
      cmp.add(`grad ${n}`, v, flattenNested(g.trace.grads[n][t]), t);
    }
    for (const n of Object.keys(g.trace.params)) {
      const v = m.get(`param ${n}`);
      if (!v) throw new Error(`trace records parameter '${n}', which this network does not have`);
      cmp.add(`param ${n}`, v, flattenNested(g.trace.params[n][t]), t);
    }
  }
  const ok = Object.values(cmp.q).every((d) => d.worstExcess <= 0);
  return { scenario: g.scenario ?? '(unnamed)', steps: T, quantities: cmp.q, ok, atol, rtol, counters };
}

/**
 * `gle simulate --backend webgpu`: run `net` (float32, its learner's optimiser) on the device for all steps in one
 * command buffer with every field logged, and return the trace in the golden schema, as `recordTrace` writes it on
 * a CPU backend (the header — settings, layers, initial values — is recordTrace's own, taken before the first step).
 */
export async function recordTraceGpu(
  net: GLENetwork,
  learner: Learner,
  engine: WebGpuEngine,
  inputs: ArrayLike<number>[],
  targets: (ArrayLike<number> | null)[] | null,
  info: { scenario?: string; description?: string } = {},
): Promise<GoldenTrace> {
  const g = recordTrace(net, learner, [], null, info);
  const T = inputs.length, B = net.B, nIn = net.nIn, L = net.layers.length;
  const tr = new GpuTrainer(engine, learner, { chunk: T, computeInputError: net.computeInputError });
  const x = new Float32Array(T * B * nIn);
  inputs.forEach((a, t) => x.set(a, t * B * nIn));
  const res = await tr.run(x, targets, { trace: true });
  await tr.download();
  tr.destroy();
  const learn = net.parameters();
  for (let t = 0; t < T; t++) {
    const m = res.trace![t];
    const get = (k: string): Float32Array => {
      const v = m.get(k);
      if (!v) throw new Error(`the device trace lacks '${k}'`);
      return v;
    };
    g.trace.output.push(nest(get('output'), B));
    g.trace.loss.push(Number.isNaN(res.loss[t]) ? null : res.loss[t]);
    for (let l = 0; l < L; l++) for (const f of Object.keys(g.trace.layers[l])) g.trace.layers[l][f].push(nest(get(`layer_${l}.${f}`), B));
    for (const p of learn) {
      g.trace.grads[p.name].push(shaped(get(`grad ${p.name}`), p.shape));
      g.trace.params[p.name].push(shaped(get(`param ${p.name}`), p.shape));
    }
  }
  g.n_steps = T;
  g.generator = `gle webgpu backend (${engine.adapterName})`;
  g.inputs = inputs.map((a) => nest(a, B));
  g.targets = targets ? targets.map((a) => (a ? (a instanceof Int32Array ? Array.from(a) : nest(a, B)) : [])) : null;
  return g;
}
