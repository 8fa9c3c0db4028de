import type { Command } from 'commander';
import { Option } from 'commander';
import { extname } from 'node:path';
import { createNodeBackend, createWebGpuEngine } from '../../node.js';
import { GLENetwork } from '../../model/network.js';
import { parseSpec, SpecError } from '../../model/spec.js';
import { Learner } from '../../learn/learner.js';
import { recordTrace } from '../../io/trace.js';
import { readJsonFile, readNpyFile, writeFileAtomic } from '../../io/files.js';
import { npyToNumbers } from '../../io/npy.js';
import { UserError } from '../../util/errors.js';
import { DivergenceError, nonFiniteTensor } from '../../experiments/guard.js';

/** Load a T × B × n (or T × n, B = 1) sequence from .npy or JSON as T flat per-step arrays. */
export function loadSequence(path: string, what: string, width: number | null): { steps: Float64Array[]; B: number; ints: boolean } {
  let shape: number[];
  let flat: Float64Array;
  let ints = false;
  if (extname(path).toLowerCase() === '.npy') {
    const a = readNpyFile(path);
    shape = a.shape;
    flat = npyToNumbers(a);
    ints = what === 'target' && !a.dtype.startsWith('float') && shape.length === 2;
  } else {
    const j = readJsonFile(path);
    const dims: number[] = [];
    let cur: unknown = j;
    while (Array.isArray(cur)) {
      dims.push(cur.length);
      cur = cur[0];
    }
    shape = dims;
    const out: number[] = [];
    const rec = (x: unknown, depth: number, where: string) => {
      if (depth === dims.length) {
        if (typeof x !== 'number') throw new UserError(`${what} ${path}: ${where} is not a number`);
        out.push(x);
        return;
      }
      if (!Array.isArray(x) || x.length !== dims[depth]) throw new UserError(`${what} ${path}: ragged nested list at ${where || 'top level'} (expected ${dims[depth]} entries)`);
      x.forEach((y, i) => rec(y, depth + 1, `${where}[${i}]`));
    };
    rec(j, 0, '');
    flat = Float64Array.from(out);
    ints = what === 'target' && out.every((v) => Number.isInteger(v)) && dims.length === 2 && width !== null && width > 1;
  }
  if (shape.length < 1 || shape.length > 3) throw new UserError(`${what} ${path}: expected shape (T, B, n), (T, n) or (T,), got (${shape.join(', ')})`);
  for (let i = 0; i < flat.length; i++) if (!Number.isFinite(flat[i])) throw new UserError(`${what} ${path}: value ${flat[i]} at flat index ${i} is not finite`);
  const T = shape[0];
  let B: number;
  if (shape.length === 3) B = shape[1];
  else if (shape.length === 2) B = ints ? shape[1] : 1;
  else B = 1;
  const per = flat.length / T;
  if (width !== null && !ints && per !== B * width) throw new UserError(`${what} ${path}: each step has ${per} values but the network needs B*${width} (shape (${shape.join(', ')}))`);
  const steps: Float64Array[] = [];
  for (let t = 0; t < T; t++) steps.push(flat.subarray(t * per, (t + 1) * per));
  return { steps, B, ints };
}

export function register(program: Command): void {
  program
    .command('simulate')
    .description('run a network spec on an input sequence (and optional targets) and write a per-step trace in the golden schema')
    .argument('<spec>', 'network spec (JSON)')
    .requiredOption('--input <file>', 'inputs, .npy or JSON, shape (T, B, n_in) or (T, n_in)')
    .option('--target <file>', 'targets, .npy or JSON: (T, B, n_out) values or (T, B) integer labels')
    .option('--out <file>', 'trace file to write (JSON, golden schema)', 'trace.json')
    .option('--steps <n>', 'simulate only the first n steps', (v) => Number(v))
    .addOption(new Option('--dtype <dtype>', 'override the spec dtype').choices(['float32', 'float64']))
    .addOption(new Option('--backend <name>', 'kernel backend; webgpu: dense GLE networks on the GPU (float32), all steps in one command buffer').choices(['auto', 'js', 'wasm', 'native', 'webgpu']))
    .action(async (specPath: string, o) => {
      let spec;
      try {
        const raw = readJsonFile(specPath) as Record<string, unknown>;
        if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new UserError(`${specPath}: a network spec must be a JSON object, got ${raw === null ? 'null' : Array.isArray(raw) ? 'an array' : typeof raw}`);
        if (o.dtype) raw.dtype = o.dtype;
        spec = parseSpec(raw);
      } catch (e) {
        if (e instanceof SpecError) throw new UserError(`${specPath}: invalid network spec: ${e.issues.join('; ')}`);
        throw e;
      }
      const nIn = spec.input_size, nOut = spec.resolved[spec.resolved.length - 1].size;
      const inp = loadSequence(o.input, 'input', nIn);
      let targets: (ArrayLike<number> | null)[] | null = null;
      if (o.target) {
        const tg = loadSequence(o.target, 'target', nOut);
        if (tg.steps.length < inp.steps.length) throw new UserError(`target ${o.target}: has ${tg.steps.length} steps, the input has ${inp.steps.length}`);
        if (tg.B !== inp.B) throw new UserError(`target ${o.target}: batch size ${tg.B} differs from the input's ${inp.B}`);
        if (tg.ints) {
          if (spec.loss !== 'ce') throw new UserError(`target ${o.target}: integer class labels need loss 'ce', the spec's loss is '${spec.loss}' (give float targets of shape (T, B, ${nOut}))`);
          tg.steps.forEach((s, t) => {
            for (let b = 0; b < s.length; b++)
              if (!Number.isInteger(s[b]) || s[b] < 0 || s[b] >= nOut) throw new UserError(`target ${o.target}: label ${s[b]} at step ${t}, row ${b} is not a class index 0..${nOut - 1}`);
          });
        }
        targets = tg.steps.map((s) => (tg.ints ? Int32Array.from(s) : s));
      }
      let steps = inp.steps;
      if (o.steps !== undefined) {
        if (!Number.isInteger(o.steps) || o.steps < 1) throw new UserError(`--steps must be a positive integer`);
        steps = steps.slice(0, o.steps);
        if (targets) targets = targets.slice(0, o.steps);
      }
      const gpuAsked = o.backend === 'webgpu';
      if (gpuAsked && spec.dtype !== 'float32') throw new UserError(`${specPath}: backend 'webgpu' runs float32 only (the spec or --dtype asks for ${spec.dtype})`);
      // webgpu: the host copy on the js backend gives the initial values; the steps run on the device
      const backend = await createNodeBackend(gpuAsked ? 'js' : (o.backend ?? spec.backend), spec.dtype);
      const net = new GLENetwork(spec, backend, { computeInputError: true, batchSize: inp.B });
      const learner = new Learner(net);
      let trace;
      const t0 = performance.now();
      if (gpuAsked) {
        const { gpuUnsupported } = await import('../../learn/gpu-trainer.js');
        const why = gpuUnsupported(net);
        if (why) throw new UserError(`${specPath}: does not run on webgpu: ${why}`);
        const engine = await createWebGpuEngine();
        const { recordTraceGpu } = await import('../../io/trace-gpu.js');
        trace = await recordTraceGpu(net, learner, engine, steps, targets, { scenario: spec.name ?? specPath });
        engine.destroy();
      } else trace = recordTrace(net, learner, steps, targets, { scenario: spec.name ?? specPath });
      const label = gpuAsked ? 'webgpu' : backend.name;
      const bad = nonFiniteTensor(net, learner);
      const lastLoss = gpuAsked ? (trace.trace.loss[trace.trace.loss.length - 1] ?? NaN) : net.lastLoss();
      const lossBad = !Number.isFinite(lastLoss) && targets !== null;
      if (bad || lossBad)
        throw new DivergenceError({ step: steps.length, unit: 'step', what: bad ? bad.what : 'loss', value: bad ? bad.value : String(lastLoss) }, `; no trace written (lower the learning rate, check the time constants and inputs)`);
      writeFileAtomic(o.out, JSON.stringify(trace));
      process.stdout.write(`simulated ${steps.length} steps (B=${inp.B}, ${label} ${backend.dtype}) in ${((performance.now() - t0) / 1000).toFixed(2)}s -> ${o.out}\n`);
    });
}
