import type { Command } from 'commander';
import { Option } from 'commander';
import { createNodeBackend, createWebGpuEngine } from '../../node.js';
import { replayTraceGpu } from '../../io/trace-gpu.js';
import { replayLeTraceGpu } from '../../io/le-trace-gpu.js';
import { readJsonFile } from '../../io/files.js';
import { replayTrace, validateTrace } from '../../io/trace.js';
import { isLeTrace, replayLeTrace, validateLeTrace } from '../../io/le-trace.js';
import { UserError } from '../../util/errors.js';

const TOL = { float32: { atol: 5e-5, rtol: 1e-4 }, float64: { atol: 1e-10, rtol: 1e-9 } };

export function register(program: Command): void {
  program
    .command('replay')
    .description('re-run recorded traces (GLE golden schema, or LE traces from the LE reference code) and report the largest differences per quantity; exits 1 beyond tolerance')
    .argument('<files...>', 'trace JSON files')
    .addOption(new Option('--dtype <dtype>', 'precision to replay in').choices(['float32', 'float64']).default('float32'))
    .addOption(new Option('--backend <name>', 'kernel backend').choices(['auto', 'js', 'wasm', 'native', 'webgpu']).default('js'))
    .option('--atol <x>', 'absolute tolerance (default 5e-5 float32, 1e-10 float64)', (v) => Number(v))
    .option('--rtol <x>', 'relative tolerance (default 1e-4 float32, 1e-9 float64)', (v) => Number(v))
    .option('--quiet', 'print one line per file', false)
    .action(async (files: string[], o) => {
      const dtype = o.dtype as 'float32' | 'float64';
      const atol = o.atol ?? TOL[dtype].atol, rtol = o.rtol ?? TOL[dtype].rtol;
      if (!(atol >= 0 && Number.isFinite(atol)) || !(rtol >= 0 && Number.isFinite(rtol))) throw new UserError('--atol and --rtol must be finite non-negative numbers');
      // webgpu (issue 19): GLE traces replay on the device, every step in one command buffer; no fallback
      const gpu = o.backend === 'webgpu' ? (dtype === 'float32' ? await createWebGpuEngine() : null) : undefined;
      if (gpu === null) throw new UserError("backend 'webgpu' runs float32 only (drop --dtype float64)");
      const backend = await createNodeBackend(gpu ? 'js' : o.backend, dtype);
      const label = gpu ? `webgpu (${gpu.adapterName})` : backend.name;
      let allOk = true;
      for (const f of files) {
        let g;
        const raw = readJsonFile(f);
        const le = isLeTrace(raw);
        try {
          g = le ? validateLeTrace(raw, f) : validateTrace(raw, f);
        } catch (e) {
          throw e instanceof UserError ? e : new UserError((e as Error).message);
        }
        let rep;
        try {
          // LE traces (test/fixtures/golden/le) replay through the LE network (on webgpu: src/learn/gpu-le.ts)
          if (gpu && le) rep = await replayLeTraceGpu(g, gpu, atol, rtol);
          else rep = gpu ? await replayTraceGpu(g as Parameters<typeof replayTraceGpu>[0], gpu, atol, rtol) : le ? replayLeTrace(g, backend, atol, rtol) : replayTrace(g, backend, atol, rtol);
        } catch (e) {
          throw new UserError(`${f}: ${(e as Error).message}`);
        }
        allOk &&= rep.ok;
        process.stdout.write(`${f}: ${rep.scenario}, ${rep.steps} steps, ${label} ${dtype}, atol ${atol} rtol ${rtol}: ${rep.ok ? 'OK' : 'FAIL'}\n`);
        if (!o.quiet || !rep.ok) {
          const w = Math.max(...Object.keys(rep.quantities).map((k) => k.length));
          for (const [k, d] of Object.entries(rep.quantities)) {
            const flag = d.worstExcess > 0 ? `  <-- beyond tolerance (step ${d.worstStep})` : '';
            process.stdout.write(`  ${k.padEnd(w)}  max abs ${d.maxAbs.toExponential(2)}  max rel ${d.maxRel.toExponential(2)}${flag}\n`);
          }
        }
      }
      if (!allOk) process.exitCode = 1;
    });
}
