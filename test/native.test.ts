import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { JsBackend, PHI, STEP, createBackend, type Backend, type FBuf, type LayerStepArgs, type PhiCode } from '../src/kernels/index.js';
import { chooseCoreType, coreTypeForFlags, parseCpuFlags, slowCoreWarning } from '../src/kernels/native/coretype.js';

const addonPath = fileURLToPath(new URL('../native/build/Release/gle_native.node', import.meta.url));
const built = existsSync(addonPath);
const skip = built ? false : 'native addon not built (apt-get install libopenblas-dev && npm run build:native)';
if (!built) console.log(`# native tests skipped: ${skip as string}`);

// ---------------------------------------------------------------- core type selection (pure, always runs)

describe('OpenBLAS core-type selection', () => {
  const avx512 = new Set(['sse3', 'avx', 'avx2', 'fma', 'avx512f', 'avx512dq', 'avx512bw', 'avx512vl']);
  const avx2 = new Set(['sse3', 'avx', 'avx2', 'fma']);
  test('flags -> core type', () => {
    assert.equal(coreTypeForFlags(avx512), 'SkylakeX');
    assert.equal(coreTypeForFlags(avx2), 'Haswell');
    assert.equal(coreTypeForFlags(new Set(['avx2'])), null); // no FMA
    assert.equal(coreTypeForFlags(new Set(['avx', 'avx2', 'fma', 'avx512f'])), 'Haswell'); // partial AVX-512
    assert.equal(coreTypeForFlags(new Set(['sse2', 'sse3'])), null);
  });
  test('unset env -> chosen from the CPU; set env -> untouched', () => {
    assert.deepEqual(chooseCoreType(avx512, {}), { set: 'SkylakeX', coreType: 'SkylakeX', source: 'cpu' });
    assert.deepEqual(chooseCoreType(avx2, { OPENBLAS_CORETYPE: '' }), { set: 'Haswell', coreType: 'Haswell', source: 'cpu' });
    assert.deepEqual(chooseCoreType(avx512, { OPENBLAS_CORETYPE: 'Haswell' }), { set: null, coreType: 'Haswell', source: 'env' });
    assert.deepEqual(chooseCoreType(avx2, { OPENBLAS_CORETYPE: 'Prescott' }), { set: null, coreType: 'Prescott', source: 'env' });
    assert.deepEqual(chooseCoreType(new Set(['sse3']), {}), { set: null, coreType: null, source: 'openblas' });
  });
  test('/proc/cpuinfo flags parsing', () => {
    const txt = 'processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: fpu sse3 AVX2 fma\nbugs\t\t: x\nprocessor\t: 1\nflags\t\t: fpu\n';
    assert.deepEqual([...parseCpuFlags(txt)], ['fpu', 'sse3', 'avx2', 'fma']);
    assert.equal(parseCpuFlags('no flags here').size, 0);
  });
  test('slow-core warning only for old kernels on AVX2 CPUs', () => {
    assert.match(slowCoreWarning('Prescott', avx2) ?? '', /Prescott.*OPENBLAS_CORETYPE=Haswell/);
    assert.match(slowCoreWarning('', avx512) ?? '', /unknown.*SkylakeX/);
    assert.equal(slowCoreWarning('Haswell', avx2), null);
    assert.equal(slowCoreWarning('SkylakeX', avx512), null);
    assert.equal(slowCoreWarning('Zen', avx2), null);
    assert.equal(slowCoreWarning('Prescott', new Set(['sse3'])), null);
  });
});

// ---------------------------------------------------------------- numeric agreement with the js backend

let seed = Number(process.env.GLE_TEST_SEED ?? 987654321);
function rnd(): number {
  seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
  return seed / 2 ** 32;
}
const sym = (s: number): number => (rnd() * 2 - 1) * s;

const FIELDS = ['W', 'b', 'tauM', 'tauR', 'rBottom', 'rawErr', 'u', 'v', 'rPrime', 'uN', 'vN', 'rN', 'rPrimeN', 'eBottomN', 'instE', 'prospU', 'prospV', 'uDot', 'gW', 'gB', 'gTau'] as const;
type Field = (typeof FIELDS)[number];
const OUT: Field[] = ['uN', 'vN', 'rN', 'rPrimeN', 'eBottomN', 'instE', 'prospU', 'prospV', 'uDot', 'gW', 'gB', 'gTau'];

function sizeOf(f: Field, B: number, nIn: number, nOut: number): number {
  if (f === 'W' || f === 'gW') return nOut * nIn;
  if (f === 'b' || f === 'tauM' || f === 'tauR' || f === 'gB' || f === 'gTau') return nOut;
  if (f === 'rBottom' || f === 'eBottomN') return B * nIn;
  return B * nOut;
}

/** Same random layer in two backends. */
function makePair(nb: Backend, B: number, nIn: number, nOut: number, bias: boolean): [LayerStepArgs, LayerStepArgs] {
  const jb = new JsBackend('float32');
  const mk = (be: Backend): Record<string, FBuf | null> => {
    const o: Record<string, FBuf | null> = {};
    for (const f of FIELDS) o[f] = (f === 'b' || f === 'gB') && !bias ? null : be.alloc(sizeOf(f, B, nIn, nOut));
    return o;
  };
  const n = mk(nb), j = mk(jb);
  const fill = (f: Field, g: () => number): void => {
    if (!n[f]) return;
    for (let i = 0; i < n[f].n; i++) n[f].a[i] = j[f]!.a[i] = g();
  };
  const ws = 2.5 / Math.sqrt(nIn);
  fill('W', () => sym(ws));
  fill('b', () => sym(0.5));
  fill('tauM', () => 0.3 + rnd() * 2);
  fill('tauR', () => 0.1 + rnd() * 1.5);
  fill('rBottom', () => sym(1.5));
  fill('rawErr', () => sym(1));
  fill('u', () => sym(2));
  fill('v', () => sym(0.5));
  fill('rPrime', () => rnd());
  // outputs start as garbage so stale values are caught
  for (const f of OUT) fill(f, () => 1e3 * sym(1));
  return [{ B, nIn, nOut, ...n } as unknown as LayerStepArgs, { B, nIn, nOut, ...j } as unknown as LayerStepArgs];
}

/**
 * For the outputs that are sums over the batch or over neurons: the largest sum of |terms| (with the output's own
 * normalisation). float32 rounding of the terms is relative to this, not to the (possibly cancelled) result.
 */
function reductionScales(L: LayerStepArgs): Partial<Record<Field, number>> {
  const { B, nIn, nOut } = L;
  const pV = L.prospV.a, rB = L.rBottom.a, W = L.W.a, u = L.u.a;
  let gB = 0, gT = 0, gW = 0, eB = 0;
  for (let j = 0; j < nOut; j++) {
    let sb = 0, st = 0;
    for (let b = 0; b < B; b++) {
      sb += Math.abs(pV[b * nOut + j]);
      // u_dot = (W r_bottom + b + gamma prosp_v - u) / tau_m is rounded relative to the size of its terms
      let terms = Math.abs(L.b ? L.b.a[j] : 0) + Math.abs(pV[b * nOut + j]) + Math.abs(u[b * nOut + j]);
      for (let k = 0; k < nIn; k++) terms += Math.abs(W[j * nIn + k] * rB[b * nIn + k]);
      st += Math.abs(pV[b * nOut + j]) * (terms / L.tauM.a[j]);
    }
    gB = Math.max(gB, sb / B);
    gT = Math.max(gT, st / B);
    for (let k = 0; k < nIn; k++) {
      let s = 0;
      for (let b = 0; b < B; b++) s += Math.abs(pV[b * nOut + j] * rB[b * nIn + k]);
      gW = Math.max(gW, s / B);
    }
  }
  for (let b = 0; b < B; b++)
    for (let k = 0; k < nIn; k++) {
      let s = 0;
      for (let j = 0; j < nOut; j++) s += Math.abs(pV[b * nOut + j] * W[j * nIn + k]);
      eB = Math.max(eB, s);
    }
  // the drive s = W r_bottom + b is a float32 sum too: its rounding reaches the fields computed from it,
  // amplified by at most max(1, 1/tau_m, tau_r/tau_m)
  let drive = 0, amp = 1;
  for (let b = 0; b < B; b++)
    for (let j = 0; j < nOut; j++) {
      let s = 0;
      for (let k = 0; k < nIn; k++) s += Math.abs(W[j * nIn + k] * rB[b * nIn + k]);
      drive = Math.max(drive, s);
    }
  for (let j = 0; j < nOut; j++) amp = Math.max(amp, 1 / L.tauM.a[j], L.tauR.a[j] / L.tauM.a[j]);
  const d = drive * amp;
  return { gB, gTau: gT, gW, eBottomN: eB, uN: d, rN: d, rPrimeN: d, prospU: d, uDot: d };
}

function assertClose(name: string, got: ArrayLike<number>, want: ArrayLike<number>, n: number, rtol: number, atolRel: number, atolMin = 0): void {
  let scale = 0;
  for (let i = 0; i < n; i++) scale = Math.max(scale, Math.abs(want[i]));
  const atol = Math.max(atolRel * Math.max(scale, 1e-3), atolMin);
  for (let i = 0; i < n; i++) {
    const d = Math.abs(got[i] - want[i]);
    if (!(d <= atol + rtol * Math.abs(want[i]))) {
      assert.fail(`${name}[${i}]: native ${got[i]} vs js ${want[i]} (|d|=${d.toExponential(2)}, scale ${scale.toExponential(2)})`);
    }
  }
}

function assertSame(name: string, got: ArrayLike<number>, want: ArrayLike<number>): void {
  assert.equal(got.length, want.length, `${name}: length`);
  for (let i = 0; i < got.length; i++) {
    if (!Object.is(got[i], want[i])) assert.fail(`${name}[${i}]: ${got[i]} vs ${want[i]} (expected bit-identical)`);
  }
}

function written(f: Field, flags: number, bias: boolean): boolean {
  if (f === 'gW') return (flags & STEP.GRADS) !== 0;
  if (f === 'gB') return bias && (flags & STEP.GRADS) !== 0;
  if (f === 'gTau') return (flags & STEP.GRADS) !== 0 && (flags & STEP.LEARN_TAU) !== 0;
  if (f === 'eBottomN') return (flags & STEP.ERR_DOWN) !== 0;
  return true;
}

const PHIS = Object.entries(PHI) as [string, PhiCode][];

describe('native backend', { skip }, () => {
  let nb: Backend;
  const jb = new JsBackend('float32');

  test('loads, reports its BLAS core and threads', async () => {
    const { loadNativeBackend, registerNative } = await import('../src/kernels/native/index.js');
    nb = await loadNativeBackend('float32', { onNotice: () => {} });
    assert.equal(nb.name, 'native');
    assert.equal(nb.info.blas, 'OpenBLAS');
    assert.equal(typeof nb.info.coreType, 'string');
    assert.ok(['env', 'cpu', 'openblas'].includes(nb.info.coreTypeSource as string));
    assert.ok((nb.info.threads as number) >= 1);
    await assert.rejects(loadNativeBackend('float64'), /native backend supports float32 only/);
    registerNative();
    const viaCreate = await createBackend({ backend: 'native' });
    assert.equal(viaCreate.name, 'native');
    const auto64 = await createBackend({ backend: 'auto', dtype: 'float64', onNotice: () => {} });
    assert.notEqual(auto64.name, 'native');
  });

  /** Load the backend in a fresh process (libopenblas reads OPENBLAS_CORETYPE once, at load). */
  function loadInChild(coreType: string | undefined): { info: Record<string, unknown>; notes: string[]; env: string | null } {
    const env = { ...process.env };
    delete env.OPENBLAS_CORETYPE;
    if (coreType !== undefined) env.OPENBLAS_CORETYPE = coreType;
    const mod = fileURLToPath(new URL('../src/kernels/native/index.ts', import.meta.url));
    const code = `const { loadNativeBackend } = await import(${JSON.stringify(mod)});
      const notes = [];
      const b = await loadNativeBackend('float32', { onNotice: (m) => notes.push(m) });
      console.log(JSON.stringify({ info: b.info, notes, env: process.env.OPENBLAS_CORETYPE ?? null }));`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { env, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}');
  }

  test('OPENBLAS_CORETYPE: chosen from the CPU when unset, never overridden when set (warning on slow cores)', () => {
    const flags = parseCpuFlags(existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : '');
    const want = coreTypeForFlags(flags);
    const auto = loadInChild(undefined);
    if (want) {
      assert.equal(auto.env, want);
      assert.equal(auto.info.coreTypeSource, 'cpu');
      assert.equal(String(auto.info.coreType).toLowerCase(), want.toLowerCase());
      assert.equal(auto.info.warning, undefined);
      assert.deepEqual(auto.notes, []);
    } else {
      assert.equal(auto.env, null);
      assert.equal(auto.info.coreTypeSource, 'openblas');
    }
    const pinned = loadInChild('Prescott');
    assert.equal(pinned.env, 'Prescott');
    assert.equal(pinned.info.coreTypeSource, 'env');
    assert.equal(pinned.info.coreType, 'Prescott');
    if (flags.has('avx2') && flags.has('fma')) {
      assert.match(String(pinned.info.warning), /Prescott.*slower/);
      assert.equal(pinned.notes.length, 1);
    }
  });

  const shapes: [number, number, number][] = [
    [1, 1, 1], [100, 1, 1], [1, 53, 53], [7, 5, 3], [100, 1, 53], [100, 53, 10], [9, 53, 53], [100, 53, 53], [23, 90, 90], [2, 750, 750], [5, 17, 1], [1, 1, 750],
  ];
  const allFlags = Array.from({ length: 16 }, (_, i) => i);
  for (const [B, nIn, nOut] of shapes) {
    test(`layerStep B=${B} ${nIn}->${nOut}: 7 activations x flags`, () => {
      const big = B * nIn * nOut > 20000;
      const flagSet = big ? [0, 15, 11, 9, 6] : allFlags;
      for (const [pname, phi] of PHIS) {
        for (const flags of flagSet) {
          const bias = (flags + phi) % 3 !== 0;
          const [n, j] = makePair(nb, B, nIn, nOut, bias);
          const gamma = flags % 2 === 0 ? 0 : 0.8;
          nb.layerStep(n, phi, 0.1, gamma, flags);
          jb.layerStep(j, phi, 0.1, gamma, flags);
          const sums = reductionScales(j);
          for (const f of OUT) {
            if (!written(f, flags, bias)) continue;
            const nf = (n as unknown as Record<string, FBuf>)[f], jf = (j as unknown as Record<string, FBuf>)[f];
            assertClose(`${pname} flags=${flags} ${f}`, nf.a, jf.a, nf.n, 1e-5, 2e-6, 1e-6 * (sums[f] ?? 0));
          }
        }
      }
    });
  }

  test('layerStep split into 2 parts (batch rows, then output neurons) on 2 threads matches js, and the same parts on 1 thread bit for bit', () => {
    const nat = nb as Backend & { tune(t: { maxThreads?: number; layerThreadMinWork?: number }): void };
    const saved = { threads: nb.info.threads as number, minWork: nb.info.layerThreadMinWork as number };
    // B = 1 leaves thread 0 without rows; B = 3 gives the threads unequal parts; nOut = 1 is never split
    const cases: [number, number, number][] = [[1, 53, 53], [3, 5, 7], [100, 53, 53], [100, 1, 53], [64, 90, 33], [5, 17, 1], [129, 300, 200]];
    try {
      for (const [B, nIn, nOut] of cases) {
        const big = B * nIn * nOut > 20000;
        for (const flags of big ? [15, 11, 9, 6] : allFlags) {
          for (const phi of big ? [PHI.tanh] : Object.values(PHI)) {
            const bias = (flags + phi) % 3 !== 0;
            const s0 = seed;
            const [one] = makePair(nb, B, nIn, nOut, bias);
            seed = s0;
            const [two, j] = makePair(nb, B, nIn, nOut, bias);
            const gamma = flags % 2 === 0 ? 0 : 0.8;
            nat.tune({ maxThreads: 1, layerThreadMinWork: 0 });
            nb.layerStep(one, phi, 0.1, gamma, flags);
            nat.tune({ maxThreads: 2, layerThreadMinWork: 0 });
            nb.layerStep(two, phi, 0.1, gamma, flags);
            nb.layerStep(two, phi, 0.1, gamma, flags); // a second call on the same handle: the same result
            jb.layerStep(j, phi, 0.1, gamma, flags);
            const sums = reductionScales(j);
            for (const f of OUT) {
              if (!written(f, flags, bias)) continue;
              const a1 = (one as unknown as Record<string, FBuf>)[f], a2 = (two as unknown as Record<string, FBuf>)[f];
              const aj = (j as unknown as Record<string, FBuf>)[f];
              const tag = `2 threads B=${B} ${nIn}->${nOut} phi=${phi} flags=${flags} ${f}`;
              assertClose(tag, a2.a, aj.a, a2.n, 1e-5, 2e-6, 1e-6 * (sums[f] ?? 0));
              // the same parts on 1 thread: bit-identical
              assertSame(`${tag} vs the same parts on 1 thread`, a2.a, a1.a);
            }
          }
        }
      }
    } finally {
      nat.tune({ maxThreads: saved.threads, layerThreadMinWork: saved.minWork });
    }
    assert.equal(nb.info.threads, saved.threads);
  });

  test('layerStep split over 2 threads while another process holds a core: bit-identical to 1 thread', async () => {
    // a busy process makes the pool's worker miss time slices, so the caller takes over its parts (or the pool
    // backs off to the caller); the parts, and so the results, stay the same
    const { spawn } = await import('node:child_process');
    const hogs = [0].map(() => spawn(process.execPath, ['-e', 'const t = Date.now(); while (Date.now() - t < 20000) {}'], { stdio: 'ignore' }));
    const nat = nb as Backend & { tune(t: { maxThreads?: number; layerThreadMinWork?: number }): void };
    const saved = { threads: nb.info.threads as number, minWork: nb.info.layerThreadMinWork as number };
    try {
      await new Promise((r) => setTimeout(r, 100));
      for (const [B, nIn, nOut, reps] of [[100, 53, 53, 200], [256, 300, 200, 8]] as const) {
        const s0 = seed;
        const [one] = makePair(nb, B, nIn, nOut, true);
        seed = s0;
        const [two] = makePair(nb, B, nIn, nOut, true);
        nat.tune({ maxThreads: 1, layerThreadMinWork: 0 });
        for (let i = 0; i < reps; i++) nb.layerStep(one, PHI.tanh, 0.1, 0.8, 15);
        nat.tune({ maxThreads: 2, layerThreadMinWork: 0 });
        for (let i = 0; i < reps; i++) nb.layerStep(two, PHI.tanh, 0.1, 0.8, 15);
        for (const f of OUT) {
          const a1 = (one as unknown as Record<string, FBuf>)[f], a2 = (two as unknown as Record<string, FBuf>)[f];
          assertSame(`busy machine B=${B} ${nIn}->${nOut} ${f} vs 1 thread`, a2.a, a1.a);
        }
      }
    } finally {
      for (const h of hogs) h.kill('SIGKILL');
      nat.tune({ maxThreads: saved.threads, layerThreadMinWork: saved.minWork });
    }
  });

  test('layerStep from several Node worker threads at once: each gets the single-caller result', () => {
    const script = fileURLToPath(new URL('./helpers/native-workers.mjs', import.meta.url));
    const r = spawnSync(process.execPath, [script], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    const { main, workers } = JSON.parse(r.stdout.trim()) as { main: number; workers: number[] };
    assert.ok(Number.isFinite(main) && main !== 0);
    assert.deepEqual(workers, [main, main, main]);
  });

  test('gle run on 1 and on 2 native threads, and a 2-thread run resumed on 1 thread, end with identical weights', async () => {
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const GLE = fileURLToPath(new URL('../bin/gle.js', import.meta.url));
    const dir = mkdtempSync(join(tmpdir(), 'gle-threads-'));
    const run = (threads: number, args: string[]): void => {
      const env = { ...process.env, GLE_FROM_SOURCE: '1', GLE_PROGRESS: 'off', GLE_NATIVE_THREADS: String(threads) };
      const r = spawnSync(process.execPath, [GLE, ...args], { encoding: 'utf8', env, timeout: 120_000 });
      assert.equal(r.status, 0, r.stderr);
    };
    try {
      // MNIST-1D 15k hidden layers at B = 100: 281 k multiply-adds per product, so every step is split in parts
      const common = ['mnist1d-15k', '--quick', '--backend', 'native', '--set', 'maxTrain=400', '--set', 'maxTest=100'];
      run(1, ['run', ...common, '--set', 'epochs=2', '--out', join(dir, 'one')]);
      run(2, ['run', ...common, '--set', 'epochs=2', '--out', join(dir, 'two')]);
      run(2, ['run', ...common, '--set', 'epochs=1', '--out', join(dir, 'resumed')]);
      run(1, ['run', '--resume', join(dir, 'resumed'), '--set', 'epochs=2']);
      const weights = (d: string): Buffer => readFileSync(join(dir, d, 'checkpoint', 'model.safetensors'));
      assert.ok(weights('one').equals(weights('two')), '1 thread vs 2 threads');
      assert.ok(weights('one').equals(weights('resumed')), '2 threads resumed on 1 thread');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a bad GLE_NATIVE_THREADS is an error (exit 2, one line), also with backend auto: no silent fallback', () => {
    const GLE = fileURLToPath(new URL('../bin/gle.js', import.meta.url));
    for (const backend of ['auto', 'native']) {
      const env = { ...process.env, GLE_FROM_SOURCE: '1', GLE_PROGRESS: 'off', GLE_NATIVE_THREADS: 'two' };
      const r = spawnSync(process.execPath, [GLE, 'replay', '--quiet', '--backend', backend, fileURLToPath(new URL('./fixtures/golden/lagline.json', import.meta.url))], { encoding: 'utf8', env });
      assert.equal(r.status, 2, `${backend}: ${r.stdout}${r.stderr}`);
      assert.equal(r.stderr.trim(), "gle: error: GLE_NATIVE_THREADS must be a positive integer (got 'two')");
    }
  });

  test('layerStep: the plain-loop path and the sgemm path both match js on small shapes', () => {
    const nat = nb as Backend & { tune(t: { blasMinWork?: number }): void };
    const saved = Number(/< (\d+)/.exec(String(nb.info.smallLayerRule))?.[1] ?? 100);
    try {
      for (const blasMinWork of [1e12, 0]) {
        nat.tune({ blasMinWork });
        for (const [B, nIn, nOut] of [[1, 1, 1], [100, 1, 1], [7, 5, 3], [9, 53, 53], [6, 1, 40], [6, 40, 1], [1, 8, 8]] as const) {
          for (const flags of [0, 15, 11, 6]) {
            const [n, j] = makePair(nb, B, nIn, nOut, flags !== 6);
            nb.layerStep(n, PHI.tanh, 0.1, 0.8, flags);
            jb.layerStep(j, PHI.tanh, 0.1, 0.8, flags);
            const sums = reductionScales(j);
            for (const f of OUT) {
              if (!written(f, flags, flags !== 6)) continue;
              const nf = (n as unknown as Record<string, FBuf>)[f], jf = (j as unknown as Record<string, FBuf>)[f];
              assertClose(`blasMinWork=${blasMinWork} B=${B} ${nIn}->${nOut} flags=${flags} ${f}`, nf.a, jf.a, nf.n, 1e-5, 2e-6, 1e-6 * (sums[f] ?? 0));
            }
          }
        }
      }
    } finally {
      nat.tune({ blasMinWork: saved });
    }
  });

  test('layerStep: 200-step rollout of a 2-layer net stays within golden tolerance', () => {
    // layer 0: 3 -> 20 (tanh), layer 1: 20 -> 4 (linear); the two parities swap state buffers each step
    const run = (be: Backend): Float32Array => {
      seed = 4242;
      const B = 5, dims = [3, 20, 4];
      const alloc = (n: number, g?: () => number): FBuf => {
        const b = be.alloc(n);
        if (g) for (let i = 0; i < n; i++) b.a[i] = g();
        return b;
      };
      const x = alloc(B * dims[0]);
      const layers = [0, 1].map((l) => {
        const nIn = dims[l], nOut = dims[l + 1];
        const W = alloc(nIn * nOut, () => sym(1.5 / Math.sqrt(nIn)));
        const b = alloc(nOut, () => sym(0.2));
        const tauM = alloc(nOut, () => 0.5 + rnd());
        const tauR = alloc(nOut, () => 0.2 + rnd() * 0.3);
        const st = [0, 1].map(() => ({ u: alloc(B * nOut), v: alloc(B * nOut), r: alloc(B * nOut), rp: alloc(B * nOut, () => 1), eB: alloc(B * nIn) }));
        return { nIn, nOut, W, b, tauM, tauR, st, instE: alloc(B * nOut), pU: alloc(B * nOut), pV: alloc(B * nOut), uDot: alloc(B * nOut), gW: alloc(nIn * nOut), gB: alloc(nOut), gT: alloc(nOut) };
      });
      const target = alloc(B * 4);
      const err = alloc(B * 4);
      const args = [0, 1].map((p) =>
        layers.map((L, l) => {
          const cur = L.st[p], nxt = L.st[1 - p];
          return {
            B, nIn: L.nIn, nOut: L.nOut, W: L.W, b: L.b, tauM: L.tauM, tauR: L.tauR,
            rBottom: l === 0 ? x : layers[l - 1].st[p].r, rawErr: l === 1 ? err : layers[l + 1].st[p].eB,
            u: cur.u, v: cur.v, rPrime: cur.rp, uN: nxt.u, vN: nxt.v, rN: nxt.r, rPrimeN: nxt.rp, eBottomN: nxt.eB,
            instE: L.instE, prospU: L.pU, prospV: L.pV, uDot: L.uDot, gW: L.gW, gB: L.gB, gTau: L.gT,
          } satisfies LayerStepArgs;
        }),
      );
      for (let t = 0; t < 200; t++) {
        const p = t % 2;
        for (let i = 0; i < x.n; i++) x.a[i] = Math.sin(0.05 * t + i);
        for (let i = 0; i < target.n; i++) target.a[i] = Math.cos(0.03 * t + i);
        const top = layers[1].st[p].r;
        for (let i = 0; i < err.n; i++) err.a[i] = 0.1 * (target.a[i] - top.a[i]);
        be.layerStep(args[p][0], PHI.tanh, 0.05, 1, STEP.PROSPECTIVE | STEP.GRADS | STEP.LEARN_TAU);
        be.layerStep(args[p][1], PHI.linear, 0.05, 1, STEP.PROSPECTIVE | STEP.GRADS | STEP.ERR_DOWN);
      }
      return Float32Array.from([...layers[0].st[0].u.a, ...layers[1].st[0].u.a, ...layers[0].gW.a, ...layers[0].gT.a]);
    };
    const a = run(nb), b = run(jb);
    assertClose('rollout', a, b, a.length, 1e-4, 5e-5);
  });

  test('gemm: all transposes, alpha/beta, beta=0 ignores NaN in C', () => {
    for (const [M, N, K] of [[1, 1, 1], [3, 5, 7], [53, 53, 100], [100, 10, 53], [17, 90, 1], [64, 33, 129]] as const) {
      for (const tA of [false, true])
        for (const tB of [false, true])
          for (const [alpha, beta] of [[1, 0], [-0.01, 0], [0.5, 1.5]] as const) {
            const A = Float32Array.from({ length: M * K }, () => sym(1));
            const Bm = Float32Array.from({ length: K * N }, () => sym(1));
            const C0 = Float32Array.from({ length: M * N }, () => (beta === 0 ? Number.NaN : sym(1)));
            const mk = (be: Backend, src: Float32Array): FBuf => {
              const b = be.alloc(src.length);
              b.a.set(src);
              return b;
            };
            const Cn = mk(nb, C0), Cj = mk(jb, C0);
            nb.gemm(tA, tB, M, N, K, alpha, mk(nb, A), mk(nb, Bm), beta, Cn);
            jb.gemm(tA, tB, M, N, K, alpha, mk(jb, A), mk(jb, Bm), beta, Cj);
            assertClose(`gemm ${tA ? 'T' : 'N'}${tB ? 'T' : 'N'} ${M}x${N}x${K} a=${alpha} b=${beta}`, Cn.a, Cj.a, M * N, 1e-5, 2e-6);
          }
    }
    assert.throws(() => nb.gemm(false, false, 4, 4, 4, 1, nb.alloc(15), nb.alloc(16), 0, nb.alloc(16)), /smaller/);
  });

  test('activate: all 7 activations over a wide range (incl. tails, branch points, NaN)', () => {
    const xs = [0, -0, 1e-30, -1e-7, 0.3, -0.549, 0.55, 0.551, 1, -1, 1.0000001, 2.5, -5, 9, 15, -19.9, 20, 20.01, 30, -40, 60, -90, 100, -200];
    for (let i = 0; i < 2000; i++) xs.push(sym(12));
    const n = xs.length;
    const mk = (be: Backend): FBuf[] => {
      const x = be.alloc(n);
      x.a.set(xs);
      return [x, be.alloc(n), be.alloc(n)];
    };
    for (const [pname, phi] of PHIS) {
      const [xn, rn, pn] = mk(nb), [xj, rj, pj] = mk(jb);
      nb.activate(phi, xn, rn, pn, n);
      jb.activate(phi, xj, rj, pj, n);
      // absolute 1e-6 on values that are O(1); relative 2e-6 otherwise (softplus grows linearly)
      for (let i = 0; i < n; i++) {
        for (const [nm, g, w] of [['phi', rn.a[i], rj.a[i]], ["phi'", pn.a[i], pj.a[i]]] as const) {
          const d = Math.abs(g - w);
          if (!(d <= 1e-6 + 2e-6 * Math.abs(w))) assert.fail(`${pname} ${nm}(${xs[i]}): native ${g} vs js ${w}`);
        }
      }
      const nan = nb.alloc(1), r1 = nb.alloc(1), p1 = nb.alloc(1);
      nan.a[0] = Number.NaN;
      nb.activate(phi, nan, r1, p1, 1);
      if (phi === PHI.relu) assert.equal(r1.a[0], 0);
      else assert.ok(Number.isNaN(r1.a[0]), `${pname}(NaN) should be NaN`);
    }
    assert.throws(() => nb.activate(9 as PhiCode, nb.alloc(2), nb.alloc(2), nb.alloc(2), 2), /unknown activation/);
  });

  test('adam: PyTorch semantics, with and without weight decay', () => {
    const n = 1001;
    for (const wd of [0, 0.01]) {
      const init = [0, 1, 2, 3].map(() => Float32Array.from({ length: n }, () => sym(1)));
      init[3] = init[3].map(Math.abs);
      const bufs = (be: Backend): FBuf[] =>
        init.map((src) => {
          const b = be.alloc(n);
          b.a.set(src);
          return b;
        });
      const [pn, gn, mn, vn] = bufs(nb), [pj, gj, mj, vj] = bufs(jb);
      for (let t = 1; t <= 20; t++) {
        for (let i = 0; i < n; i++) gn.a[i] = gj.a[i] = Math.sin(i * 0.37 + t) * 0.1;
        const s = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, bc1: 1 - 0.9 ** t, bc2: 1 - 0.999 ** t, weightDecay: wd };
        nb.adam(pn, gn, mn, vn, n, s);
        jb.adam(pj, gj, mj, vj, n, s);
      }
      // native computes in float32 (as torch.optim.Adam on float32 tensors), js in double: 20 steps of float
      // rounding apart, far below the size of one update (lr 1e-3)
      assertClose(`adam p wd=${wd}`, pn.a, pj.a, n, 1e-6, 1e-6);
      assertClose(`adam m wd=${wd}`, mn.a, mj.a, n, 1e-5, 1e-6);
      assertClose(`adam v wd=${wd}`, vn.a, vj.a, n, 1e-5, 1e-6);
    }
  });

  test('adam split over 2 pool threads (n >= 65,536) equals 1 thread exactly', () => {
    const nat = nb as Backend & { tune(t: { maxThreads?: number }): void };
    const saved = nb.info.threads as number;
    const n = 70_001; // not a multiple of the 16-entry alignment of the parts
    const init = [0, 1, 2, 3].map((i) => Float32Array.from({ length: n }, () => (i === 3 ? rnd() : sym(1))));
    const bufs = (): FBuf[] =>
      init.map((src) => {
        const b = nb.alloc(n);
        b.a.set(src);
        return b;
      });
    const one = bufs(), two = bufs();
    try {
      for (let t = 1; t <= 3; t++) {
        const s = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, bc1: 1 - 0.9 ** t, bc2: 1 - 0.999 ** t, weightDecay: 0.01 };
        nat.tune({ maxThreads: 1 });
        nb.adam(one[0], one[1], one[2], one[3], n, s);
        nat.tune({ maxThreads: 2 });
        nb.adam(two[0], two[1], two[2], two[3], n, s);
      }
    } finally {
      nat.tune({ maxThreads: saved });
    }
    for (const i of [0, 2, 3]) assert.deepEqual(two[i].a, one[i].a);
    assert.notDeepEqual(one[0].a, init[0]);
  });

  test('layerStep rejects buffers that are too small (no out-of-bounds access)', () => {
    const [n] = makePair(nb, 4, 3, 2, true);
    const bad = { ...n, rBottom: nb.alloc(11) } as LayerStepArgs;
    assert.throws(() => nb.layerStep(bad, PHI.tanh, 0.1, 1, 0), /rBottom.*at least 12/);
    const f64 = { ...n, u: new JsBackend('float64').alloc(8) } as LayerStepArgs;
    assert.throws(() => nb.layerStep(f64, PHI.tanh, 0.1, 1, 0), /not float32/);
  });
});
