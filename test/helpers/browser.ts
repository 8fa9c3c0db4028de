/**
 * The headless-Chromium plumbing the browser tests share (Debian's /usr/bin/chromium, or GLE_CHROMIUM, driven by
 * playwright-core; no browser download): whether Chromium is there, the lab's dist kept fresh and served, a
 * persistent-profile lab page that collects console errors, and a page that replays golden files on WebGPU
 * (SwiftShader's adapter) from an esbuild bundle of a browser-safe entry.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext, BrowserContextOptions, Page } from 'playwright-core';
import { buildLab, startLabServer, type LabServer } from '../../src/cli/commands/lab.js';

export const CHROMIUM = process.env.GLE_CHROMIUM ?? '/usr/bin/chromium';
export const haveChromium = existsSync(CHROMIUM);

/** The `skip` option of a browser test: false, or why it is skipped (also printed). */
export function chromiumSkip(what: string): false | string {
  if (haveChromium) return false;
  const why = `no Chromium at ${CHROMIUM} (apt-get install chromium, or set GLE_CHROMIUM); skipping ${what}`;
  console.log(`# ${why}`);
  return why;
}

/** Flags that give headless Chromium SwiftShader's WebGPU adapter. */
export const SWIFTSHADER_WEBGPU = ['--enable-unsafe-webgpu', '--use-webgpu-adapter=swiftshader'];

/** Chromium (playwright-core) on CHROMIUM, without its sandbox, with the extra flags. */
export async function launchChromium(args: string[]): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', ...args] });
}

/** The repository's root. */
export const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const labDir = join(repo, 'lab');
/** Where the browser tests put screenshots and downloads. */
export const artifacts = join(repo, 'test-artifacts', 'lab');

/** The newest modification time below d (dist and node_modules left out). */
function newestMtime(d: string): number {
  let m = 0;
  for (const f of readdirSync(d, { withFileTypes: true })) {
    if (f.name === 'dist' || f.name === 'node_modules') continue;
    const p = join(d, f.name);
    m = Math.max(m, f.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return m;
}

/**
 * Build lab/dist when it is missing or older than lab/'s sources or src/core.ts, make test-artifacts/lab/, and serve
 * lab/dist on a free port of 127.0.0.1.
 */
export async function serveLab(): Promise<LabServer> {
  const dist = join(labDir, 'dist');
  const built = join(dist, 'index.html');
  const sources = Math.max(newestMtime(labDir), statSync(join(repo, 'src', 'core.ts')).mtimeMs);
  if (!existsSync(built) || statSync(built).mtimeMs < sources) await buildLab(labDir);
  mkdirSync(artifacts, { recursive: true });
  return startLabServer({ root: dist, port: 0 });
}

/**
 * Headless Chromium with a fresh profile (no GPU, downloads accepted) and its first page; the page's console errors
 * and uncaught errors are pushed to `errors`. `close` closes the browser and removes the profile.
 */
export async function launchLabBrowser(opts: BrowserContextOptions, errors: string[]): Promise<{ ctx: BrowserContext; page: Page; close(): Promise<void> }> {
  const { chromium } = await import('playwright-core');
  const profile = mkdtempSync(join(tmpdir(), 'gle-lab-chromium-'));
  let ctx: BrowserContext;
  try {
    ctx = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      acceptDownloads: true,
      ...opts,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  } catch (e) {
    rmSync(profile, { recursive: true, force: true });
    throw e;
  }
  const page = ctx.pages()[0] ?? (await ctx.newPage());
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  const close = async () => {
    try {
      await ctx.close();
    } finally {
      rmSync(profile, { recursive: true, force: true });
    }
  };
  return { ctx, page, close };
}

/**
 * A page that replays golden files in the browser: `entry` (a browser-safe module that defines globalThis[fn](url))
 * is bundled by esbuild as Vite does for the lab and must reach no Node built-in; the golden files of `goldenDir`
 * whose names `allow` accepts are served at /g/NAME.json; Chromium runs with SwiftShader's WebGPU adapter.
 * `replay(name)` resolves to what globalThis[fn]('/g/NAME') gives.
 */
export async function openGoldenPage(entry: URL, goldenDir: URL, fn: string, allow: (name: string) => boolean = () => true): Promise<{ replay(name: string): Promise<unknown>; close(): Promise<void> }> {
  const { build } = await import('esbuild');
  const out = await build({ entryPoints: [fileURLToPath(entry)], bundle: true, format: 'esm', platform: 'browser', write: false, logLevel: 'silent' });
  const js = out.outputFiles[0].text;
  assert.ok(!/from ["']node:/.test(js), 'the bundle reaches a Node built-in');
  const srv = createServer((req, res) => {
    const u = req.url ?? '/';
    if (u === '/') {
      res.setHeader('content-type', 'text/html');
      res.end('<!doctype html><script type="module" src="/b.js"></script>');
    } else if (u === '/b.js') {
      res.setHeader('content-type', 'text/javascript');
      res.end(js);
    } else if (/^\/g\/[a-z_]+\.json$/.test(u) && allow(u.slice(3))) {
      res.setHeader('content-type', 'application/json');
      res.end(readFileSync(new URL(u.slice(3), goldenDir)));
    } else {
      res.statusCode = 404;
      res.end();
    }
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  let browser: Browser | undefined;
  const close = async () => {
    try {
      await browser?.close();
    } finally {
      srv.close();
    }
  };
  try {
    browser = await launchChromium(SWIFTSHADER_WEBGPU);
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${port}/`);
    await page.waitForFunction((f) => f in globalThis, fn);
    const replay = (name: string) => page.evaluate(([f, u]) => (globalThis as unknown as Record<string, (u: string) => Promise<unknown>>)[f](u), [fn, `/g/${name}`] as const);
    return { replay, close };
  } catch (e) {
    await close();
    throw e;
  }
}
