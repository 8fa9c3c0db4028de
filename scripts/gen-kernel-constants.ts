/**
 * Write the generated kernel constants (native/gle_layout.h, wasm/assembly/layout.ts) from src/kernels/layout.ts, and
 * the spiking kernel's struct constants (wasm/assembly/ssn-layout.ts, salnet-layout.ts) from src/spiking/.
 * Usage: npm run gen:constants   (then npm run build:native, npm run build:wasm and npm run build:wasm-spiking)
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { generatedFiles } from '../src/kernels/codegen.js';

const root = fileURLToPath(new URL('..', import.meta.url));
for (const f of generatedFiles()) {
  writeFileSync(root + f.path, f.text);
  console.log(`wrote ${f.path}`);
}
