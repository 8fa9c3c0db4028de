/**
 * `gle lab [--port N] [--no-open]`: serve the built GLE Lab (lab/dist) on 127.0.0.1 only and print its URL.
 * Every response carries security headers (nosniff, CSP with frame-ancestors 'none', X-Frame-Options) and a request
 * whose Host header is not a loopback name gets 421 (DNS rebinding).
 * Builds the lab first (with Vite, a dev dependency) if lab/dist is missing. A taken --port is an error;
 * without --port the default 5317 is tried and a free port is used when it is busy.
 */
import type { Command } from 'commander';
import { createServer, type Server } from 'node:http';
import { createReadStream, existsSync, statSync } from 'node:fs';
import { dirname, extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawn } from 'node:child_process';
import { UserError } from '../../util/errors.js';

export const DEFAULT_LAB_PORT = 5317;

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.wasm': 'application/wasm',
  '.npy': 'application/octet-stream',
  '.map': 'application/json',
};

/**
 * Headers sent with every response: no MIME sniffing, no framing (clickjacking), and a Content-Security-Policy that
 * fits the app (its own scripts, module worker and WebAssembly; inline style attributes the plots use; data:/blob:
 * images for the PNG export; nothing from elsewhere).
 */
export const SECURITY_HEADERS: Record<string, string> = {
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Content-Security-Policy':
    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; style-src 'self' 'unsafe-inline'; " +
    "img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
};

/**
 * Whether a request's Host header names this machine's loopback interface (127.0.0.1, localhost, [::1], with or
 * without a port). Anything else is refused, so a page on another origin that rebinds its DNS name to 127.0.0.1
 * cannot read what the lab serves.
 */
export function isLoopbackHost(host: string | undefined): boolean {
  if (!host) return false;
  const m = /^(\[[^\]]*\]|[^:]+)(?::(\d{1,5}))?$/.exec(host.trim().toLowerCase());
  if (!m) return false;
  const name = m[1];
  return name === '127.0.0.1' || name === 'localhost' || name === '[::1]';
}

/** The lab/ folder of the project (found by walking up from this file, so it works from src/ and dist/). */
export function labDir(): string {
  let d = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(d, 'lab', 'index.html')) && existsSync(join(d, 'package.json'))) return join(d, 'lab');
    d = dirname(d);
  }
  throw new UserError('gle lab: cannot find the lab/ folder of the gle package');
}

/** Build lab/dist with Vite (programmatic API). */
export async function buildLab(dir = labDir()): Promise<void> {
  let vite: typeof import('vite');
  try {
    vite = await import('vite');
  } catch {
    throw new UserError(`gle lab: ${join(dir, 'dist')} is missing and Vite is not installed to build it (run npm install, then npm run lab:build)`);
  }
  await vite.build({ configFile: join(dir, 'vite.config.ts'), logLevel: 'warn' });
}

export interface LabServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

function listen(server: Server, port: number): Promise<number> {
  return new Promise((res, rej) => {
    const onErr = (e: NodeJS.ErrnoException) => rej(e);
    server.once('error', onErr);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', onErr);
      res((server.address() as { port: number }).port);
    });
  });
}

/**
 * Serve a directory of static files on 127.0.0.1. `port` undefined: try the default, then any free port;
 * a number (0 = any free port): exactly that port, UserError if it is taken.
 */
export async function startLabServer(opts: { root: string; port?: number; dataDir?: string }): Promise<LabServer> {
  const root = resolve(opts.root);
  // the installed package ships the MNIST-1D files once (data/mnist1d), not again in lab/dist/data
  const dataDir = opts.dataDir ? resolve(opts.dataDir) : null;
  const server = createServer((req, res) => {
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) res.setHeader(k, v);
    if (!isLoopbackHost(req.headers.host)) {
      res.writeHead(421, { 'Content-Type': 'text/plain' }).end('misdirected request: this server answers only to 127.0.0.1, localhost or [::1]');
      return;
    }
    let path: string;
    try {
      path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    } catch {
      res.writeHead(400).end('bad request');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405).end();
      return;
    }
    let file = normalize(join(root, path));
    if (file !== root && !file.startsWith(root + sep)) {
      res.writeHead(403).end('forbidden');
      return;
    }
    if (existsSync(file) && statSync(file).isDirectory()) file = join(file, 'index.html');
    const m = /^\/data\/([\w.-]+\.npy)$/.exec(path);
    if (!existsSync(file) && dataDir && m) file = join(dataDir, m[1]);
    if (!existsSync(file)) {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found');
      return;
    }
    const st = statSync(file);
    res.writeHead(200, { 'Content-Type': MIME[extname(file)] ?? 'application/octet-stream', 'Content-Length': st.size, 'Cache-Control': 'no-cache' });
    if (req.method === 'HEAD') res.end();
    else createReadStream(file).pipe(res);
  });
  let port: number;
  try {
    port = await listen(server, opts.port ?? DEFAULT_LAB_PORT);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (opts.port === undefined && code === 'EADDRINUSE') port = await listen(server, 0);
    else if (code === 'EADDRINUSE') throw new UserError(`gle lab: port ${opts.port} on 127.0.0.1 is already in use (choose another with --port N, or --port 0 for any free port)`);
    else throw new UserError(`gle lab: cannot listen on 127.0.0.1:${opts.port}: ${(e as Error).message}`);
  }
  return {
    url: `http://127.0.0.1:${port}/`,
    port,
    close: () => new Promise<void>((res) => {
      server.closeAllConnections();
      server.close(() => res());
    }),
  };
}

function openBrowser(url: string): void {
  const cmd = process.platform === 'darwin' ? 'open' : process.platform === 'win32' ? 'explorer' : 'xdg-open';
  try {
    const p = spawn(cmd, [url], { stdio: 'ignore', detached: true });
    p.on('error', () => undefined);
    p.unref();
  } catch {
    /* no browser opener: the printed URL is enough */
  }
}

export function register(program: Command): void {
  program
    .command('lab')
    .description('serve the GLE Lab browser app on 127.0.0.1 (builds lab/dist first if missing) and print its URL')
    .option('--port <n>', `port on 127.0.0.1 (default ${DEFAULT_LAB_PORT}, or a free one if busy; 0 = any free port)`)
    .option('--no-open', 'do not open a browser')
    .option('--rebuild', 'rebuild lab/dist even if it exists')
    .action(async (o: { port?: string; open: boolean; rebuild?: boolean }) => {
      let port: number | undefined;
      if (o.port !== undefined) {
        port = Number(o.port);
        if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UserError(`gle lab: --port must be an integer 0..65535, got '${o.port}'`);
      }
      const dir = labDir();
      const dist = join(dir, 'dist');
      if (o.rebuild || !existsSync(join(dist, 'index.html'))) {
        console.error(`gle lab: building ${dist} …`);
        await buildLab(dir);
      }
      const srv = await startLabServer({ root: dist, port, dataDir: join(dir, '..', 'data', 'mnist1d') });
      console.log(`GLE Lab: ${srv.url}`);
      console.error('(serving on 127.0.0.1 only; press Ctrl-C to stop)');
      if (o.open) openBrowser(srv.url);
      await new Promise<void>((res) => {
        const stop = () => void srv.close().then(res);
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
    });
}
