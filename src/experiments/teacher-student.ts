/**
 * Teacher–student task (LagLine, LagNet): a fixed teacher network maps an input stream to targets (its returned,
 * one-step-delayed output, computed without a target); a student of the same architecture with randomised
 * parameters learns online to reproduce them with one of the learning rules.
 */
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import type { FBuf } from '../kernels/types.js';
import { GLENetwork } from '../model/network.js';
import type { DenseLayerSpecInput, NetworkSpecInput } from '../model/spec.js';
import { Learner } from '../learn/learner.js';
import { Rng } from '../util/rng.js';
import { SinesInput, SquareWaveInput } from '../data/signals.js';
import { lineChartSvg } from '../report/plot.js';
import { readCheckpoint, applyCheckpoint } from '../io/checkpoint.js';
import { UserError } from '../util/errors.js';
import type { Rule, RunContext, TaskFn, TeacherStudentParams } from './types.js';

export interface StepRule {
  step(x: ArrayLike<number> | null, target: ArrayLike<number> | null): FBuf;
}

/** Build the student's learning rule. Windowed rules (BPTT, adjoint) are loaded on demand. */
export async function makeRule(rule: Rule, learner: Learner, dt: number, amWindow: number): Promise<StepRule> {
  if (rule === 'gle' || rule === 'bp') return { step: (x, t) => learner.trainStep(x, t) };
  const m = /^bptt-tw(\d+)$/.exec(rule);
  if (m) {
    const { TruncatedBPTT } = await import('../learn/bptt.js');
    return new TruncatedBPTT(learner, Math.round(Number(m[1]) / dt));
  }
  if (rule === 'am') {
    const { AdjointLearner } = await import('../learn/adjoint.js');
    return new AdjointLearner(learner, Math.round(amWindow / dt));
  }
  throw new UserError(`unknown model '${rule}' (expected gle, bp, bptt-tw1, bptt-tw2, bptt-tw4 or am)`);
}

function windowSteps(rule: Rule, dt: number, amWindow: number): number {
  const m = /^bptt-tw(\d+)$/.exec(rule);
  if (m) return Math.round(Number(m[1]) / dt);
  if (rule === 'am') return Math.round(amWindow / dt);
  return 1;
}

/** The student's spec: the teacher's architecture (and dt), prospective errors for GLE only. */
function studentSpec(p: TeacherStudentParams, dtype: 'float32' | 'float64', dt: number): NetworkSpecInput {
  const t = p.teacher;
  const prospective = p.model === 'gle' || p.model === 'am';
  const win = windowSteps(p.model, dt, p.amWindow);
  const lr = p.model === 'am' && p.amLr !== undefined ? p.amLr : (p.optimizer.lrTimesBeta / p.student.beta) * (p.model.startsWith('bptt') ? win : 1);
  return {
    ...t,
    name: `student-${p.model}`,
    dtype,
    beta: p.student.beta,
    prospective_errors: prospective,
    layers: t.layers.map((l, i) => ({
      ...l,
      // the adjoint student's errors do not feed back into its dynamics (reference "ie": gamma 0)
      gamma: p.model === 'am' ? 0 : (l as DenseLayerSpecInput).gamma,
      learn_tau: p.student.learn_tau,
      trainable: p.learnLayers === 'all' || p.learnLayers.includes(i),
    })),
    optimizer: p.optimizer.type === 'adam' ? { type: 'adam', lr } : { type: 'sgd', lr, momentum: p.optimizer.momentum },
    clamp_tau_min: p.clampTauMin,
  };
}

type Trace = { t: number[]; x: number[]; y: number[]; target: number[] };

/** Everything a teacher–student run holds between its three phases (setup → loop → report). */
interface TsRun {
  p: TeacherStudentParams;
  /** the run's time step: the teacher network's dt (the student has the same) */
  dt: number;
  teacher: GLENetwork;
  student: GLENetwork;
  sSpec: NetworkSpecInput;
  learner: Learner;
  rule: StepRule;
  input: SquareWaveInput | SinesInput;
  /** tensors logged and plotted (weights and tau_m) */
  paramTrack: { name: string; buf: FBuf }[];
  setTaus(from: 'teacher' | 'own'): void;
  total: number;
  /** the first step of this session (> 0 after a resume) */
  start: number;
  /** figure windows of 12 time units: their first steps */
  figWin: number;
  windows: Record<string, number>;
  lastWin: number;
  last100: number;
  /** what the summary and figures accumulate; it travels in the checkpoint (TsState) */
  acc: TsState['acc'];
  trace: Record<string, Trace>;
  series: TsState['series'];
}

const PRESETS: Record<string, Record<string, number[]>> = {
  // the reference LagLine script's student after torch.manual_seed(0) (reference-gle.md §3.3)
  'reference-seed0': { 'layer_0.weight': [0.49], 'layer_1.weight': [0.896], 'layer_0.tau_m': [0.307], 'layer_1.tau_m': [0.634] },
};

/** Setup: the teacher, the randomised student and its rule, the input, and the accumulators (restored on resume). */
async function setup(ctx: RunContext<TeacherStudentParams>): Promise<TsRun> {
  const p = ctx.params;
  const dtype = ctx.backend.dtype;
  const teacher = new GLENetwork({ ...p.teacher, dtype }, await ctx.newBackend(), { batchSize: p.batch });
  teacher.training = false;
  const dt = teacher.dt;
  const sSpec = studentSpec(p, dtype, dt);
  const student = new GLENetwork(sSpec, ctx.backend, { batchSize: p.batch });
  const learner = new Learner(student);
  const rule = await makeRule(p.model, learner, dt, p.amWindow);

  // randomise the student's parameters from the seed (reference: U[0,1) for tau_m0, tau_m1, w0, w1)
  const rng = new Rng(ctx.seed);
  const named = new Map(student.allTensors().map((t) => [t.name, t.buf]));
  for (const n of p.randomise.names) {
    const buf = named.get(n);
    if (!buf) throw new UserError(`randomise: the student has no tensor '${n}'`);
    for (let i = 0; i < buf.n; i++) buf.a[i] = rng.range(p.randomise.lo, p.randomise.hi);
  }
  const init = { ...(p.initPreset !== 'random' ? PRESETS[p.initPreset] : {}), ...(p.studentInit ?? {}) };
  for (const [n, vals] of Object.entries(init)) {
    const buf = named.get(n);
    if (!buf) throw new UserError(`studentInit: the student has no tensor '${n}'`);
    if (vals.length !== buf.n) throw new UserError(`studentInit.${n}: expected ${buf.n} finite numbers`);
    buf.a.set(vals);
  }
  const total = p.initSteps + p.trainSteps;
  const input = p.input.type === 'square' ? new SquareWaveInput(total, p.batch, rng, p.input) : new SinesInput(dt, p.batch, p.input.omegas, p.input.amps, p.input.phases);

  // the student's own tau_m (to restore after the "before learning" phase with the teacher's taus)
  const tauSaved = student.layers.map((l) => Float64Array.from(l.params.tauM.a));
  const setTaus = (from: 'teacher' | 'own') =>
    student.layers.forEach((l, i) => l.params.tauM.a.set(from === 'teacher' ? teacher.layers[i].params.tauM.a : tauSaved[i]));

  // traces of the first batch row for figures
  const figWin = Math.round(12 / dt);
  const windows = {
    before: Math.max(0, Math.min(p.initTeacherTau, p.initSteps) - figWin),
    start: p.initSteps,
    end: total - figWin,
  };
  const paramTrack = student.allTensors().filter((t) => t.name.endsWith('.weight') || t.name.endsWith('.tau_m'));
  const run: TsRun = {
    p, dt, teacher, student, sSpec, learner, rule, input, paramTrack, setTaus, total, start: 0, figWin, windows,
    lastWin: Math.round(4 / dt),
    last100: Math.round(100 / dt),
    // loss accumulators: per log interval, and over time-unit windows for the summary
    acc: { accLoss: 0, accN: 0, lossLast4: 0, lossLast100: 0, winLoss: p.finalWindows.map(() => ({ sum: 0, n: 0 })) },
    trace: Object.fromEntries(Object.keys(windows).map((k) => [k, { t: [], x: [], y: [], target: [] }])),
    series: { t: [], loss: [], params: Object.fromEntries(paramTrack.map((t) => [t.name, []])) },
  };
  // everything the summary and figures accumulate travels in the checkpoint, so a resumed run ends identical
  if (ctx.resumeFrom) {
    const ck = readCheckpoint(ctx.resumeFrom);
    applyCheckpoint(ck, student, learner, ctx.resumeFrom);
    const tck = join(ctx.resumeFrom, 'teacher');
    if (existsSync(tck)) applyCheckpoint(readCheckpoint(tck), teacher, null, tck);
    const ex = (ck.meta?.extra ?? {}) as Partial<TsState>;
    run.start = Number(ex.step ?? 0);
    if (ex.acc) {
      const { accLoss, accN, lossLast4, lossLast100 } = ex.acc;
      Object.assign(run.acc, { accLoss, accN, lossLast4, lossLast100 });
      ex.acc.winLoss.forEach((w, i) => run.acc.winLoss[i] && Object.assign(run.acc.winLoss[i], w));
    }
    if (ex.trace) for (const k of Object.keys(run.trace)) if (ex.trace[k]) run.trace[k] = ex.trace[k];
    if (ex.series) Object.assign(run.series, ex.series);
    if (p.model !== 'gle' && p.model !== 'bp' && run.start > p.initSteps) ctx.log('note: windowed rules resume at a window boundary only approximately');
  } else if (p.initTeacherTau > 0) setTaus('teacher');
  return run;
}

/** The checkpoint of a run at step `at`: the student with its optimiser, the teacher, the accumulators. */
function save(ctx: RunContext<TeacherStudentParams>, r: TsRun, at: number): void {
  const state: TsState = { step: at, experiment: 'teacher-student', model: r.p.model, acc: r.acc, trace: r.trace, series: r.series };
  ctx.saveCheckpoint(r.student, r.learner, { ...state }, { teacher: { net: r.teacher, extra: { step: at } } });
}

/** The loop: the teacher makes the target, the student steps (learning after initSteps); logs, checkpoints. Returns the step reached. */
async function loop(ctx: RunContext<TeacherStudentParams>, r: TsRun): Promise<number> {
  const { p, dt, teacher, student, learner, rule, input, paramTrack, total, start, figWin, windows, lastWin, last100, acc, trace, series } = r;
  const x = new Float64Array(p.batch);
  const tg = new Float64Array(p.batch * student.nOut);
  const bar = ctx.progress(total - start, `lagline/${p.model}`);
  let step = start;
  for (; step < total; step++) {
    if ((step & 2047) === 0) await ctx.breathe();
    if (ctx.stopRequested()) break;
    if (step === p.initTeacherTau && p.initTeacherTau > 0) r.setTaus('own');
    input.fill(step, x);
    const tOut = teacher.step(x, null);
    tg.set(tOut.a);
    const out: FBuf = step < p.initSteps ? learner.evalStep(x, tg) : rule.step(x, tg);
    const loss = student.lastLoss();
    acc.accLoss += loss;
    acc.accN++;
    if (step >= total - lastWin) acc.lossLast4 += loss;
    if (step >= total - last100) acc.lossLast100 += loss;
    const time = step * dt;
    p.finalWindows.forEach((w, i) => {
      if (time >= w && time < w + 4) {
        acc.winLoss[i].sum += loss;
        acc.winLoss[i].n++;
      }
    });
    for (const [k, s] of Object.entries(windows)) {
      if (step >= s && step < s + figWin && step % 5 === 0) {
        const tr = trace[k];
        tr.t.push(time);
        tr.x.push(x[0]);
        tr.y.push(out.a[0]);
        tr.target.push(tg[0]);
      }
    }
    if ((step + 1) % p.logEvery === 0) {
      const rec: Record<string, number | string> = { kind: 'train', step: step + 1, t: (step + 1) * dt, loss: acc.accLoss / acc.accN, lr: learner.lr, phase: step < p.initSteps ? 'init' : 'train' };
      series.t.push((step + 1) * dt);
      series.loss.push(acc.accLoss / acc.accN);
      for (const pt of paramTrack) {
        for (let i = 0; i < pt.buf.n; i++) rec[pt.buf.n === 1 ? pt.name : `${pt.name}[${i}]`] = pt.buf.a[i];
        series.params[pt.name].push(pt.buf.a[0]);
      }
      ctx.metrics.append(rec);
      ctx.guard(rec.loss as number, student, learner, { step: step + 1, unit: 'step' });
      acc.accLoss = 0;
      acc.accN = 0;
      if (ctx.checkpointDue() && step + 1 < total) save(ctx, r, step + 1);
      bar.update(step + 1 - start, { loss: rec.loss as number });
    }
  }
  bar.stop();
  // final checkpoint (student with optimiser state, teacher state) — written even when interrupted
  ctx.guard(acc.accN ? acc.accLoss / acc.accN : 0, student, learner, { step, unit: 'step' });
  save(ctx, r, step);
  return step;
}

/** The report: final parameter errors and losses, the figures, and (LagNet) the GLE-errors-vs-adjoints analysis. */
async function report(ctx: RunContext<TeacherStudentParams>, r: TsRun, step: number): Promise<Record<string, number>> {
  const { p, dt, teacher, student, paramTrack, total, lastWin, last100, acc, trace, series } = r;
  const final: Record<string, number> = {};
  const teacherVals = new Map(teacher.allTensors().map((t) => [t.name, t.buf]));
  let maxW = 0, maxTau = 0;
  for (const pt of paramTrack) {
    const tv = teacherVals.get(pt.name)!;
    for (let i = 0; i < pt.buf.n; i++) {
      final[pt.buf.n === 1 ? pt.name : `${pt.name}[${i}]`] = pt.buf.a[i];
      const d = Math.abs(pt.buf.a[i] - tv.a[i]);
      if (pt.name.endsWith('weight')) maxW = Math.max(maxW, d);
      else maxTau = Math.max(maxTau, d);
    }
  }
  final.max_abs_weight_error = maxW;
  if (p.student.learn_tau) final.max_abs_tau_m_error = maxTau;
  if (step >= total) {
    final.loss_last4 = acc.lossLast4 / lastWin;
    final.loss_last100 = acc.lossLast100 / Math.min(last100, total);
  }
  p.finalWindows.forEach((w, i) => {
    if (acc.winLoss[i].n > 0) final[`loss_t${w}`] = acc.winLoss[i].sum / acc.winLoss[i].n;
  });

  // figures; time is in the model's unit (the unit of every tau); one step is dt of it
  const timeLabel = `time (model time units; dt = ${dt})`;
  const learnStart = p.initSteps > 0 ? [{ x: p.initSteps * dt, label: 'learning starts' }] : [];
  if (series.t.length > 1) {
    ctx.figure('loss', await lineChartSvg({ title: `${p.model} student: loss (batch-mean MSE)`, xLabel: timeLabel, yLabel: 'loss', logY: true, series: [{ name: 'loss', x: series.t, y: series.loss }], vlines: learnStart }));
    const ps = Object.entries(series.params).map(([name, y]) => ({ name, x: series.t, y }));
    const hl = paramTrack.map((pt) => ({ y: teacherVals.get(pt.name)!.a[0], label: `teacher ${pt.name}` }));
    // tau_m is clamped from the start of learning on; before it the student runs with its drawn (unclamped) values
    if (p.clampTauMin !== null && p.student.learn_tau) hl.push({ y: p.clampTauMin, label: `tau_m clamp ${p.clampTauMin} (from the start of learning)` });
    ctx.figure('params', await lineChartSvg({ title: 'student parameters vs teacher values', xLabel: timeLabel, yLabel: 'value', series: ps, hlines: hl, vlines: learnStart }));
  }
  for (const [k, tr] of Object.entries(trace)) {
    if (tr.t.length < 2) continue;
    ctx.figure(
      `output-${k}`,
      await lineChartSvg({
        title: `output vs target (${k === 'before' ? 'before learning, student with the teacher\'s tau_m' : k === 'start' ? 'start of learning' : 'end of run'})`,
        xLabel: timeLabel,
        yLabel: 'rate',
        // the target wide and pale underneath, the output thin and dashed on top: both stay visible when they agree
        series: [
          { name: 'input', x: tr.t, y: tr.x, dash: [2, 3] },
          { name: 'target', x: tr.t, y: tr.target, strokeWidth: 5, opacity: 0.45 },
          { name: 'output', x: tr.t, y: tr.y, dash: [6, 4], strokeWidth: 1.5 },
        ],
      }),
    );
  }
  if (p.analysisSteps && step >= total && !ctx.stopRequested()) {
    const { errorsVsAdjoint } = await import('./analysis.js');
    const fx = new Float64Array(p.batch);
    Object.assign(
      final,
      await errorsVsAdjoint(ctx, {
        student,
        studentSpec: r.sSpec,
        teacher,
        fillInput: (s, out) => {
          r.input.fill(s, fx);
          out.set(fx);
        },
        startStep: step,
        steps: p.analysisSteps,
        dt,
        layer: 0,
        omegas: p.input.type === 'sines' ? p.input.omegas : [],
      }),
    );
  }
  return final;
}

export const teacherStudentTask: TaskFn<TeacherStudentParams> = async (ctx) => {
  const run = await setup(ctx);
  const step = await loop(ctx, run);
  const final = await report(ctx, run, step);
  return { final, steps: step - run.start, totalSteps: step };
};

/** What a teacher-student checkpoint carries besides the networks (meta.json `extra`). */
interface TsState {
  step: number;
  experiment: string;
  model: Rule;
  acc: { accLoss: number; accN: number; lossLast4: number; lossLast100: number; winLoss: { sum: number; n: number }[] };
  trace: Record<string, Trace>;
  series: { t: number[]; loss: number[]; params: Record<string, number[]> };
}
