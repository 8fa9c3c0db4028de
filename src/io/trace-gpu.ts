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
import { Comparator, type GoldenTrace, LAYER_FIELDS, type ReplayReport, targetArg, traceToSpec } from './trace.js';

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
