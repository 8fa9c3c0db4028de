/**
 * Vite config of the GLE Lab. `npm run lab:dev` serves it on 127.0.0.1; `npm run lab:build` writes static files to
 * lab/dist (relative URLs, so any static host or sub-path works). The MNIST-1D .npy files of data/mnist1d are
 * served at data/ in development and copied to dist/data/ at build time. The lab imports the library only as `gle/core`
 * (src/core.ts, the browser-safe entry), aliased here and in lab/tsconfig.json.
 */
import { defineConfig, type Plugin } from 'vite';
import { createReadStream, existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..');
const dataDir = join(repo, 'data', 'mnist1d');
const DATA_FILES = ['mnist1d_360_x_train.npy', 'mnist1d_y_train.npy', 'mnist1d_360_x_test.npy', 'mnist1d_y_test.npy'];

function mnist1dData(): Plugin {
  return {
    name: 'gle-lab-mnist1d-data',
    configureServer(server) {
      server.middlewares.use((req, res, next) => {
        const m = /\/data\/([\w.]+\.npy)$/.exec((req.url ?? '').split('?')[0]);
        if (!m || !DATA_FILES.includes(m[1]) || !existsSync(join(dataDir, m[1]))) return next();
        res.setHeader('Content-Type', 'application/octet-stream');
        createReadStream(join(dataDir, m[1])).pipe(res);
      });
    },
    generateBundle() {
      for (const f of DATA_FILES) this.emitFile({ type: 'asset', fileName: `data/${f}`, source: readFileSync(join(dataDir, f)) });
    },
  };
}

// gle/core re-exports the whole browser core: a module of src/ none of whose exports the lab uses is left out of the
// bundle (the top-level statements of a module that is used, e.g. kernel and backend registrations, stay)
const treeshake = { moduleSideEffects: (id: string) => !id.startsWith(join(repo, 'src') + sep) };

export default defineConfig({
  root: here,
  base: './',
  plugins: [mnist1dData()],
  // the lab uses only the package's browser entry, built from source
  resolve: { alias: { 'gle/core': join(repo, 'src', 'core.ts') } },
  worker: { format: 'es', rollupOptions: { treeshake } },
  server: { host: '127.0.0.1', port: 5173, fs: { allow: [repo] } },
  preview: { host: '127.0.0.1' },
  build: {
    outDir: join(here, 'dist'),
    emptyOutDir: true,
    target: 'es2022',
    chunkSizeWarningLimit: 2000,
    rollupOptions: { treeshake },
  },
  logLevel: 'warn',
});
