/**
 * The documentation's code runs here, so it cannot rot: every ```ts block of README.md and docs/guide.md is run
 * (imports of 'gle' / 'gle/core' pointed at the sources), a ```text block right after one must match its output, the
 * ```sh examples run (each `gle run` for a few seconds), and the README's command synopsis agrees with `--help`.
 * The README's npm commands (npm install/ci, npm test, npm pack + install, npx gle lab) are what .ci/run executes,
 * with test/package/check-package.ts for the packed package.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { codeBlocks } from './helpers/doc-blocks.js';

const repo = new URL('..', import.meta.url).pathname;
const GLE = join(repo, 'bin', 'gle.js');

/** The block with 'gle' and 'gle/core' imports pointed at this checkout's sources. */
export function againstSources(code: string): string {
  const src = (f: string) => pathToFileURL(join(repo, 'src', f)).href;
  return code.replace(/from 'gle'/g, `from '${src('index.ts')}'`).replace(/from 'gle\/core'/g, `from '${src('core.ts')}'`);
}

function runTs(code: string, dir: string, name: string): { code: number; out: string; err: string } {
  const file = join(dir, `${name}.mts`);
  writeFileSync(file, againstSources(code));
  const r = spawnSync(process.execPath, ['--import', import.meta.resolve('tsx'), file], { cwd: dir, encoding: 'utf8', env: { ...process.env, GLE_PROGRESS: 'off' } });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

/** Numbers in a line of output (1.9e-3, 20000, 5.0e-1 ...). */
const numbers = (s: string) => [...s.matchAll(/-?\d+(?:\.\d+)?(?:e[-+]?\d+)?/gi)].map((m) => Number(m[0]));

/** Output lines match the documented ones: same words, same integers, measured values within a factor of 5. */
export function assertLike(out: string, documented: string, what: string): void {
  const got = out.trim().split('\n');
  const want = documented.trim().split('\n');
  assert.equal(got.length, want.length, `${what}: ${got.length} lines printed, ${want.length} documented:\n${out}`);
  for (let i = 0; i < want.length; i++) {
    const words = (s: string) => s.replace(/-?\d+(?:\.\d+)?(?:e[-+]?\d+)?/gi, '#');
    assert.equal(words(got[i]), words(want[i]), `${what} line ${i + 1}`);
    const [g, w] = [numbers(got[i]), numbers(want[i])];
    for (let j = 0; j < w.length; j++) {
      if (Number.isInteger(w[j]) && Math.abs(w[j]) >= 10) assert.equal(g[j], w[j], `${what} line ${i + 1}`);
      else if (w[j] !== 0) assert.ok(g[j] / w[j] > 0.2 && g[j] / w[j] < 5, `${what} line ${i + 1}: ${got[i]} vs documented ${want[i]}`);
    }
  }
}

/** Run every ts block of a markdown file; a following ```text block is its documented output. */
export function runDocBlocks(file: string, check: (i: number, out: string) => void): void {
  const blocks = codeBlocks(file);
  const dir = mkdtempSync(join(tmpdir(), 'gle-docs-'));
  try {
    let n = 0;
    blocks.forEach((b, i) => {
      if (b.lang !== 'ts') return;
      const r = runTs(b.code, dir, `block${i}`);
      assert.equal(r.code, 0, `${file}:${b.line}: the block failed\n${r.err}`);
      const next = blocks[i + 1];
      if (next?.lang === 'text') assertLike(r.out, next.code, `${file}:${b.line}`);
      check(n++, r.out);
    });
    assert.ok(n > 0, `${file} has ts blocks`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test("README's library example runs, learns the delay, and prints what the README shows", () => {
  runDocBlocks(join(repo, 'README.md'), (_i, out) => {
    const losses = out.trim().split('\n').map((l) => numbers(l.split(':')[1])[0]);
    assert.ok(losses.every(Number.isFinite), out);
    assert.ok(losses[3] < losses[0] / 5, `training loss falls: ${losses}`);
    assert.ok(losses[4] < 1e-2, `the frozen network delays the sine (mean loss ${losses[4]} vs 0.5 for a zero output)`);
  });
});

function gle(args: string[], cwd: string) {
  const r = spawnSync(process.execPath, [GLE, ...args], { cwd, encoding: 'utf8', env: { ...process.env, GLE_PROGRESS: 'off' } });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

/** Shell-like split of a command line (no quotes are used in the README's examples). */
const words = (line: string) => line.replace(/\s+#.*$/, '').trim().split(/\s+/);

test("README's command examples run (each `gle run` for a few seconds, into a temporary folder)", () => {
  const dir = mkdtempSync(join(tmpdir(), 'gle-readme-sh-'));
  try {
    const lines = codeBlocks(join(repo, 'README.md'))
      .filter((b) => b.lang === 'sh')
      .flatMap((b) => b.code.split('\n'))
      .flatMap((l) => l.split('&&').map((s) => s.trim()))
      .filter((l) => l.startsWith('node bin/gle.js'));
    assert.ok(lines.length >= 4, lines.join('\n'));
    lines.forEach((line, i) => {
      const args = words(line).slice(2);
      // outputs go to the temporary folder, never into the checkout
      const extra = args[0] === 'run' ? ['--max-seconds', '3', '--out', join(dir, `run${i}`)] : args[0] === 'simulate' && !args.includes('--out') ? ['--out', join(dir, `trace${i}.json`)] : [];
      const r = gle([...args, ...extra], repo);
      // --max-seconds ends a longer run early with the interrupt code (130) after writing its results
      const ok = r.code === 0 || (r.code === 130 && extra.length > 0 && /stopped early/.test(r.out));
      assert.ok(ok, `${line} (exit ${r.code})\n${r.err}`);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** Option flags and subcommands that `gle CMD --help` lists. */
function helpFlags(cmd: string[]): Set<string> {
  const r = gle([...cmd, '--help'], repo);
  assert.equal(r.code, 0, r.err);
  // the Options section only: descriptions may mention other commands' flags
  const options = r.out.split(/^Options:$/m)[1]?.split(/^Commands:$/m)[0] ?? '';
  return new Set([...options.matchAll(/^ {2}(?:-\w, )?(--[a-z][a-z0-9-]*)/gm)].map((m) => m[1]).filter((f) => f !== '--help'));
}

test("README's command synopsis agrees with --help: every command, and every flag of each, both ways", () => {
  const synopsis = codeBlocks(join(repo, 'README.md')).find((b) => b.lang === '' && /^gle list/m.test(b.code));
  assert.ok(synopsis, 'the synopsis block');
  // flags per top-level command (and `gle mnist1d generate|info`, `gle data speech-commands`) in the README
  const readme = new Map<string, Set<string>>();
  let key = '';
  for (const line of synopsis.code.split('\n')) {
    const m = /^gle ([\w-]+)(?: (generate|info|speech-commands|run|status|enqueue|emit slurm|emit k8s)\b)?/.exec(line);
    if (m) key = m[2] ? `${m[1]} ${m[2]}` : m[1] === 'sweep' ? 'sweep start' : m[1]; // `gle sweep FILE` is `sweep start`
    else if (!/^\s/.test(line) || !key) continue; // an indented line continues the command above
    const usage = line.trim().replace(/\s{2,}\S.*$/, ''); // drop the description column
    const set = readme.get(key) ?? new Set<string>();
    for (const f of usage.matchAll(/--[a-z][a-z0-9-]*/g)) set.add(f[0]);
    readme.set(key, set);
  }
  const top = gle(['--help'], repo).out;
  const commands = [...(top.split(/^Commands:$/m)[1] ?? '').matchAll(/^ {2}([\w-]+)/gm)].map((m) => m[1]).filter((c) => c !== 'help');
  const SUBS: Record<string, string[]> = {
    mnist1d: ['generate', 'info'],
    data: ['speech-commands'],
    sweep: ['start', 'run', 'status', 'enqueue', 'emit slurm', 'emit k8s'],
  };
  for (const c of commands) {
    const subs = SUBS[c] ?? [''];
    for (const s of subs) {
      const key = s ? `${c} ${s}` : c;
      assert.ok(readme.has(key), `the README's synopsis lacks \`gle ${key}\``);
      const help = helpFlags(s ? [c, ...s.split(' ')] : [c]);
      const doc = readme.get(key)!;
      for (const f of help) assert.ok(doc.has(f), `\`gle ${key} --help\` has ${f}; the README's synopsis does not`);
      for (const f of doc) assert.ok(help.has(f), `the README's synopsis gives \`gle ${key} ${f}\`; --help does not`);
    }
  }
});

test('docs/guide.md runs as one program: CSV series learnt, checkpoint reloads identically, sequences classified', () => {
  const file = join(repo, 'docs', 'guide.md');
  const code = codeBlocks(file).filter((b) => b.lang === 'ts').map((b) => b.code).join('\n\n');
  const dir = mkdtempSync(join(tmpdir(), 'gle-guide-test-'));
  try {
    const r = runTs(code, dir, 'guide');
    assert.equal(r.code, 0, `docs/guide.md failed:\n${r.err}`);
    const num = (re: RegExp) => Number(re.exec(r.out)?.[1]);
    const held = num(/held-out mean loss ([\d.e+-]+) \(the target's variance: [\d.e+-]+\)/);
    const variance = num(/the target's variance: ([\d.e+-]+)/);
    const again = num(/reloaded on js: held-out mean loss ([\d.e+-]+)/);
    assert.ok(held < variance / 10, `part 1 learnt: held-out loss ${held} vs variance ${variance}\n${r.out}`);
    assert.ok(Math.abs(again - held) <= 1e-3 * held, `the reloaded network evaluates as the original: ${again} vs ${held}`);
    assert.match(r.out, /figure written: true/);
    const accs = [...r.out.matchAll(/held-out accuracy ([\d.]+) %/g)].map((m) => Number(m[1]));
    assert.equal(accs.length, 4, r.out);
    assert.ok(Math.max(...accs) >= 80 && accs[3] >= 60, `part 2 classifies the held-out sequences (accuracy ${accs.join(', ')} %; chance 33.3 %)`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
