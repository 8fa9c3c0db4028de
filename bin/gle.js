#!/usr/bin/env node
// Launcher. In a checkout (src/ present) it runs the TypeScript sources through tsx, so edits take effect at once and
// a stale dist/ is never used; an installed package (no src/) runs the compiled dist/. GLE_FROM_DIST=1 forces dist/.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

// a closed pipe (gle ... | head) ends the program quietly
for (const s of [process.stdout, process.stderr]) s.on('error', (e) => { if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0); throw e; });

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const compiled = join(root, 'dist', 'src', 'cli', 'main.js');
const source = join(root, 'src', 'cli', 'main.ts');
let mod;
if (existsSync(compiled) && !process.env.GLE_FROM_SOURCE && (!existsSync(source) || process.env.GLE_FROM_DIST === '1')) {
  mod = await import(pathToFileURL(compiled).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  mod = await import(pathToFileURL(source).href);
}
process.exitCode = await mod.main(process.argv.slice(2));
