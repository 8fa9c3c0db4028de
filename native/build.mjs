#!/usr/bin/env node
/**
 * Build the optional native backend: native/gle_native.c -> native/build/Release/gle_native.node.
 *
 *   node native/build.mjs             build (npm run build:native); exits 1 with a reason when it cannot
 *   node native/build.mjs --optional  the package's install script: never fails installation; when there is no
 *                                     C compiler, no Node headers or no OpenBLAS it prints one line and exits 0
 *
 * It calls the C compiler directly (a plain C N-API module needs nothing else), so neither Python nor node-gyp
 * nor a download of Node headers is involved. native/binding.gyp describes the same build for node-gyp users.
 * Environment: CC (compiler, default cc), GLE_SKIP_NATIVE=1 (skip), GLE_NATIVE_CFLAGS (replaces -march=native),
 * npm_config_nodedir (where include/node lives).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const optional = process.argv.includes('--optional');
const here = dirname(fileURLToPath(import.meta.url));
const src = join(here, 'gle_native.c');
const outDir = join(here, 'build', 'Release');
const out = join(outDir, 'gle_native.node');

function done(ok, msg) {
  if (ok) {
    console.log(`gle: ${msg}`);
    process.exit(0);
  }
  if (optional) {
    console.log(`gle: native backend not built (${msg}); the wasm/js backends will be used`);
    process.exit(0);
  }
  console.error(`gle: native backend not built: ${msg}`);
  process.exit(1);
}

if (process.env.GLE_SKIP_NATIVE === '1') done(false, 'GLE_SKIP_NATIVE=1');
if (process.platform === 'win32') done(false, 'not supported on Windows');

const cc = process.env.CC || 'cc';
const probe = spawnSync(cc, ['--version'], { encoding: 'utf8' });
if (probe.error || probe.status !== 0) done(false, `no C compiler ('${cc}' not found)`);

const headerDirs = [
  process.env.npm_config_nodedir && join(process.env.npm_config_nodedir, 'include', 'node'),
  join(dirname(process.execPath), '..', 'include', 'node'),
  '/usr/include/node',
  '/usr/local/include/node',
].filter(Boolean);
const inc = headerDirs.find((d) => existsSync(join(d, 'node_api.h')));
if (!inc) done(false, 'Node headers (node_api.h) not found; set npm_config_nodedir');

const libDirs = ['/usr/lib/x86_64-linux-gnu/openblas-pthread', '/usr/lib/aarch64-linux-gnu/openblas-pthread', '/opt/homebrew/opt/openblas/lib', '/usr/local/opt/openblas/lib']
  .filter((d) => existsSync(d))
  .map((d) => `-L${d}`);

mkdirSync(outDir, { recursive: true });
const tmp = join(outDir, `gle_native.${process.pid}.tmp.node`);
const base = ['-O3', '-fno-math-errno', '-std=c11', '-fPIC', '-shared', '-fvisibility=hidden', `-I${inc}`, src, '-o', tmp, ...libDirs, '-lopenblas', '-lm'];
if (process.platform === 'darwin') base.push('-undefined', 'dynamic_lookup');
const archFlags = process.env.GLE_NATIVE_CFLAGS !== undefined ? process.env.GLE_NATIVE_CFLAGS.split(/\s+/).filter(Boolean) : ['-march=native'];

let res = spawnSync(cc, [...archFlags, ...base], { encoding: 'utf8' });
if (res.status !== 0 && archFlags.length > 0) res = spawnSync(cc, base, { encoding: 'utf8' });
if (res.status !== 0) {
  rmSync(tmp, { force: true });
  const err = `${res.stderr ?? ''}${res.error ? res.error.message : ''}`;
  if (/openblas/i.test(err) || /cannot find -l/.test(err)) done(false, 'OpenBLAS not found (apt-get install libopenblas-dev)');
  const first = err.split('\n').find((l) => /error/i.test(l)) ?? err.split('\n')[0];
  done(false, `compile failed: ${first.trim()}`);
}

// the addon must load (libopenblas.so resolvable at run time) before it replaces a working one
const check = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(tmp)}).info()`], {
  encoding: 'utf8',
  env: { ...process.env, OPENBLAS_NUM_THREADS: '1' },
});
if (check.status !== 0) {
  rmSync(tmp, { force: true });
  done(false, `built addon does not load: ${(check.stderr.split('\n').find((l) => l.trim()) ?? '').trim()}`);
}
renameSync(tmp, out);
done(true, `native backend built (${out})`);
