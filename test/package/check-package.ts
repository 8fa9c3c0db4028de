/**
 * The package as a user gets it: `npm pack` (its prepare script builds dist/ and lab/dist), the tarball's contents,
 * then a fresh project that installs the tarball (--prefer-offline: from the npm cache where it can) and
 *   - runs the README's library example as JavaScript (type annotations stripped) and type-checks it as TypeScript
 *     (`tsc --noEmit`, strict, against the package's own .d.ts files),
 *   - imports 'gle/core' and steps a network on the js backend,
 *   - runs `gle list` and starts `gle lab` from the installed copy, fetching its page, a script and a data file.
 * Usage: node --import tsx test/package/check-package.ts [--keep]     (npm run test:package; .ci/run runs it)
 * Exits 1 with the failing step's output. The registry is asked only for what the npm cache lacks.
 */
import { spawn, spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { codeBlocks } from '../helpers/doc-blocks.js';

const repo = new URL('../..', import.meta.url).pathname;
const keep = process.argv.includes('--keep');
const work = mkdtempSync(join(tmpdir(), 'gle-package-'));
const t00 = performance.now();

function fail(msg: string): never {
  console.error(`check-package: FAILED: ${msg}`);
  console.error(`(work folder ${work} kept)`);
  process.exit(1);
}

function sh(cmd: string, args: string[], opts: SpawnSyncOptions & { what: string }): string {
  const t0 = performance.now();
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, ...opts });
  const out = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  if (r.status !== 0) fail(`${opts.what}: \`${cmd} ${args.join(' ')}\` exited ${r.status}\n${out}`);
  console.log(`ok  ${opts.what} (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  return String(r.stdout ?? '');
}

function check(cond: unknown, msg: string): void {
  if (!cond) fail(msg);
}

// 1. pack
const packDir = join(work, 'pack');
mkdirSync(packDir);
const packed = JSON.parse(sh('npm', ['pack', '--json', '--pack-destination', packDir], { cwd: repo, what: 'npm pack (prepare: tsc + vite build)' })) as {
  filename: string;
  size: number;
  files: { path: string }[];
}[];
const files = packed[0].files.map((f) => f.path);
const tarball = join(packDir, packed[0].filename);
for (const f of ['dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/core.js', 'dist/src/core.d.ts', 'dist/src/cli/main.js', 'dist/src/kernels/wasm/kernels-binary.js', 'lab/dist/index.html', 'lab/index.html', 'bin/gle.js', 'native/gle_native.c', 'native/build.mjs', 'data/mnist1d/mnist1d_360_x_train.npy', 'README.md', 'package.json']) {
  check(files.includes(f), `the tarball lacks ${f}`);
}
const stray = files.filter((f) => /^(test|bench|src|wasm|\.ci|runs|node_modules|dist\/bench)\//.test(f));
check(stray.length === 0, `the tarball ships files it should not: ${stray.slice(0, 5).join(', ')}`);
console.log(`    ${packed[0].filename}: ${files.length} files, ${(packed[0].size / 1e6).toFixed(1)} MB`);

// 2. a fresh project installing the tarball (offline: from the npm cache)
const proj = join(work, 'project');
mkdirSync(proj);
writeFileSync(join(proj, 'package.json'), JSON.stringify({ name: 'uses-gle', version: '1.0.0', private: true, type: 'module' }, null, 2));
const tsVersion = JSON.parse(readFileSync(join(repo, 'node_modules', 'typescript', 'package.json'), 'utf8')).version as string;
const nodeTypes = JSON.parse(readFileSync(join(repo, 'node_modules', '@types', 'node', 'package.json'), 'utf8')).version as string;
sh('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', tarball, `typescript@${tsVersion}`, `@types/node@${nodeTypes}`], { cwd: proj, what: 'npm install --prefer-offline <tarball> into a fresh project' });

// 3. the README's library example, as TypeScript (tsc --noEmit) and as JavaScript (node)
const example = codeBlocks(join(repo, 'README.md')).find((b) => b.lang === 'ts' && b.code.includes("from 'gle'"));
check(example, "the README has a ts block importing from 'gle'");
writeFileSync(join(proj, 'example.ts'), example!.code);
writeFileSync(
  join(proj, 'core-check.ts'),
  [
    "import { GLENetwork, Learner, createBackend, type NetworkSpecInput } from 'gle/core';",
    "const spec: NetworkSpecInput = { input_size: 2, dt: 0.1, dtype: 'float64', layers: [{ size: 3, phi: 'tanh', tau_m: 1, tau_r: 1 }, { size: 1, phi: 'linear', tau_m: 1, tau_r: 1 }], optimizer: { type: 'sgd', lr: 0.01 } };",
    "const net = new GLENetwork(spec, await createBackend({ backend: 'js', dtype: 'float64' }), { batchSize: 1 });",
    'const learner = new Learner(net);',
    'for (let t = 0; t < 100; t++) learner.trainStep([1, -1], [0.5]);',
    "if (!Number.isFinite(net.lastLoss())) throw new Error('no loss');",
    "console.log(`gle/core: ${net.spec.layers.length} layers, loss ${net.lastLoss().toExponential(2)} after 100 steps`);",
    '',
  ].join('\n'),
);
writeFileSync(
  join(proj, 'tsconfig.json'),
  JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, types: ['node'], lib: ['ES2022', 'DOM'] }, files: ['example.ts', 'core-check.ts'] }, null, 2),
);
sh(process.execPath, [join(proj, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], { cwd: proj, what: "tsc --noEmit: the README example and a gle/core program against the package's types" });
// JavaScript: the same code with its type annotations removed by the TypeScript compiler (nothing else changes)
const strip = `import ts from 'typescript'; import { readFileSync, writeFileSync } from 'node:fs';
for (const f of ['example', 'core-check']) writeFileSync(f + '.mjs', ts.transpileModule(readFileSync(f + '.ts', 'utf8'), { compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext } }).outputText);`;
writeFileSync(join(proj, 'strip.mjs'), strip);
sh(process.execPath, ['strip.mjs'], { cwd: proj, what: 'the examples as JavaScript (types stripped)' });
const exOut = sh(process.execPath, ['example.mjs'], { cwd: proj, what: "node example.mjs (the README's library example)" });
const frozen = Number(/frozen: mean loss ([\d.e+-]+)/.exec(exOut)?.[1]);
check(frozen < 1e-2, `the README example did not learn (frozen loss ${frozen}):\n${exOut}`);
console.log(`    ${exOut.trim().split('\n').join('\n    ')}`);
console.log(`    ${sh(process.execPath, ['core-check.mjs'], { cwd: proj, what: "node core-check.mjs (import from 'gle/core')" }).trim()}`);

// 4. the installed CLI: gle list, gle lab
const gleBin = join(proj, 'node_modules', '.bin', 'gle');
check(existsSync(gleBin), 'node_modules/.bin/gle is missing');
check(!existsSync(join(proj, 'node_modules', 'gle', 'src')), 'the installed package has src/ (the CLI would run from sources)');
const list = sh(gleBin, ['list'], { cwd: proj, what: 'gle list (installed copy)' });
check(/mnist1d-15k/.test(list), `gle list: ${list}`);

async function labCheck(): Promise<void> {
  const t0 = performance.now();
  const child = spawn(gleBin, ['lab', '--port', '0', '--no-open'], { cwd: proj, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  try {
    const url = await new Promise<string>((res, rej) => {
      const timer = setTimeout(() => rej(new Error(`no URL after 60 s; stdout: ${out} stderr: ${err}`)), 60_000);
      child.stdout.on('data', () => {
        const m = /GLE Lab: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out);
        if (m) {
          clearTimeout(timer);
          res(m[1]);
        }
      });
      child.on('exit', (c) => rej(new Error(`gle lab exited ${c}: ${err}`)));
    });
    const page = await (await fetch(url)).text();
    check(/<html/i.test(page) && /GLE/.test(page), `gle lab served no page: ${page.slice(0, 200)}`);
    const script = /src="\.?\/?(assets\/[^"]+\.js)"/.exec(page)?.[1];
    check(script, 'the lab page names no script');
    const js = await fetch(url + script);
    check(js.ok && (await js.text()).length > 1000, `gle lab: ${script} not served`);
    const npy = await fetch(url + 'data/mnist1d_y_test.npy');
    check(npy.ok && new Uint8Array(await npy.arrayBuffer())[1] === 0x4e, 'gle lab: data/mnist1d_y_test.npy (from the package data/mnist1d) not served');
    check(!/building/.test(err), `gle lab rebuilt the lab instead of serving the packaged lab/dist: ${err}`);
    console.log(`ok  gle lab (installed copy) serves ${url}, ${script} and the MNIST-1D data (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  } catch (e) {
    fail(`gle lab: ${(e as Error).message}`);
  } finally {
    child.kill('SIGTERM');
  }
}
await labCheck();

console.log(`check-package: all passed in ${((performance.now() - t00) / 1000).toFixed(0)} s`);
if (!keep) rmSync(work, { recursive: true, force: true });
else console.log(`(kept ${work})`);
