#!/usr/bin/env node
// Launcher: runs the compiled CLI when present, otherwise the TypeScript sources through tsx.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

// a closed pipe (gle ... | head) ends the program quietly
for (const s of [process.stdout, process.stderr]) s.on('error', (e) => { if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0); throw e; });

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const compiled = join(root, 'dist', 'src', 'cli', 'main.js');
let mod;
if (existsSync(compiled) && !process.env.GLE_FROM_SOURCE) {
  mod = await import(pathToFileURL(compiled).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  mod = await import(pathToFileURL(join(root, 'src', 'cli', 'main.ts')).href);
}
process.exitCode = await mod.main(process.argv.slice(2));
