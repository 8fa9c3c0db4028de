/** The LE golden traces of test/fixtures/golden/le (replay: src/io/le-trace.ts). */
import { readFileSync } from 'node:fs';
import { validateLeTrace, type LeTrace } from '../../src/io/le-trace.js';

export { replayLeTrace as replayLeGolden, failures, maxAbsOverall, leTraceSpec as goldenSpec, flat } from '../../src/io/le-trace.js';

export const LE_GOLDEN_FILES = ['le_mlp.json', 'le_mlp_ff.json', 'le_mlp_fa.json', 'le_mlp_tau_mismatch.json', 'le_conv.json'];

export function loadLeGolden(file: string): LeTrace {
  return validateLeTrace(JSON.parse(readFileSync(new URL(`../fixtures/golden/le/${file}`, import.meta.url), 'utf8')), file);
}
