/**
 * A sweep: experiments × settings × seeds, expanded into a table of rows with one stable index each.
 *
 * A sweep file (JSON or YAML) holds one group, or several under `groups:` (each inheriting the top-level fields):
 *
 *   name: lr-sweep
 *   experiment: mnist1d-15k        # see `gle list`
 *   quick: true                    # --quick for every row
 *   seeds: 3                       # a count (0, 1, 2), a list [12, 34], or a range "0-9"
 *   set: { epochs: 2 }             # --set for every row (dotted keys, values as in --set)
 *   grid:                          # the cartesian product of these values
 *     network.optimizer.lr: [1.0e-3, 5.0e-4]
 *   settings:                      # and/or an explicit list of settings
 *     - { label: small, set: { maxTrain: 400 } }
 *   backend: js                    # kernel backend of every row (default auto)
 *
 * Rows are ordered group by group, setting by setting (settings list × grid, the grid's first key slowest), seed by
 * seed. A row's setting label names its group and its values (e.g. `GLE 15k` or `network.optimizer.lr=0.001`); the
 * report groups rows by it. Expansion checks that every experiment exists and every --set applies, so a bad sweep
 * file fails before anything runs.
 */
import { z } from 'zod';
import { parse as parseYaml } from 'yaml';
import { UserError } from '../util/errors.js';
import { findExperiment, EXPERIMENTS } from '../experiments/registry.js';
import { resolveParams } from '../experiments/runner.js';

const scalar = z.union([z.string(), z.number(), z.boolean(), z.null()]);
const value: z.ZodType<unknown> = z.lazy(() => z.union([scalar, z.array(value), z.record(value)]));
const seeds = z.union([z.number().int().positive(), z.array(z.number().int().nonnegative()).nonempty(), z.string().regex(/^\d+\s*-\s*\d+$/, 'a range like "0-9"')]);
const setting = z.object({ label: z.string().min(1).optional(), set: z.record(value).default({}) }).strict();
const groupFields = {
  label: z.string().min(1).optional(),
  experiment: z.string().min(1).optional(),
  quick: z.boolean().optional(),
  seeds: seeds.optional(),
  set: z.record(value).optional(),
  grid: z.record(z.array(value).nonempty()).optional(),
  settings: z.array(setting).nonempty().optional(),
  backend: z.enum(['auto', 'js', 'wasm', 'native']).optional(),
  dtype: z.enum(['float32', 'float64']).optional(),
  /** the paper's value for this group, shown next to the result by `gle report` */
  paper: z.string().optional(),
};
const group = z.object(groupFields).strict();
export const sweepSchema = z
  .object({ name: z.string().min(1).regex(/^[\w.-]+$/, 'letters, digits, "_", "-" and "." only').optional(), description: z.string().optional(), ...groupFields, groups: z.array(group).nonempty().optional() })
  .strict();
export type SweepSpec = z.infer<typeof sweepSchema>;

export interface SweepRow {
  index: number;
  /** the setting label (group label + varying values); the report aggregates rows with the same label */
  label: string;
  experiment: string;
  quick: boolean;
  /** --set assignments, `key=JSON` */
  set: string[];
  seed: number;
  backend: 'auto' | 'js' | 'wasm' | 'native';
  dtype?: 'float32' | 'float64';
  paper?: string;
}

function seedList(s: z.infer<typeof seeds> | undefined, where: string): number[] {
  if (s === undefined) return [0];
  if (typeof s === 'number') return Array.from({ length: s }, (_, i) => i);
  if (typeof s === 'string') {
    const [a, b] = s.split('-').map((t) => Number(t.trim()));
    if (b < a) throw new UserError(`${where}: seeds range "${s}" is empty`);
    return Array.from({ length: b - a + 1 }, (_, i) => a + i);
  }
  if (new Set(s).size !== s.length) throw new UserError(`${where}: seeds list repeats a seed`);
  return s;
}

function fmt(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** Parse a sweep file's text (YAML is a superset of JSON); `what` names it in errors. */
export function parseSweepText(text: string, what: string): SweepSpec {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (e) {
    throw new UserError(`${what}: not valid YAML/JSON (${(e as Error).message.split('\n')[0]})`);
  }
  const r = sweepSchema.safeParse(raw);
  if (!r.success) {
    const i = r.error.issues[0];
    throw new UserError(`${what}: ${i.path.length ? i.path.join('.') + ': ' : ''}${i.message}`);
  }
  return r.data;
}

/** Expand a spec into its rows (validated: experiments exist, every --set applies to its experiment). */
export function expandSweep(spec: SweepSpec, what = 'sweep'): SweepRow[] {
  const { groups, name: _n, description: _d, ...top } = spec;
  const gs = groups ?? [{}];
  const rows: SweepRow[] = [];
  gs.forEach((g0, gi) => {
    const g = { ...top, ...g0, set: { ...(top.set ?? {}), ...(g0.set ?? {}) } };
    const where = groups ? `${what}: groups.${gi}` : what;
    if (!g.experiment) throw new UserError(`${where}: no experiment (one of ${EXPERIMENTS.map((e) => e.name).join(', ')})`);
    const def = findExperiment(g.experiment);
    if (!def) throw new UserError(`${where}: unknown experiment '${g.experiment}' (known: ${EXPERIMENTS.map((e) => e.name).join(', ')})`);
    const settings = g0.settings ?? (groups ? undefined : top.settings) ?? [{ set: {} }];
    const grid = Object.entries(g0.grid ?? (groups ? {} : top.grid ?? {}));
    let combos: Array<Array<[string, unknown]>> = [[]];
    for (const [k, vs] of grid) combos = combos.flatMap((c) => vs.map((v) => [...c, [k, v] as [string, unknown]]));
    const sds = seedList(g.seeds, where);
    for (const st of settings) {
      for (const combo of combos) {
        const assign: Record<string, unknown> = { ...g.set, ...st.set };
        for (const [k, v] of combo) assign[k] = v;
        const labelParts = [g0.label ?? (groups ? g.experiment : top.label), st.label, ...combo.map(([k, v]) => `${k}=${fmt(v)}`)].filter((x): x is string => !!x);
        const label = labelParts.length ? labelParts.join(' ') : g.experiment;
        const set = Object.entries(assign).map(([k, v]) => `${k}=${JSON.stringify(v)}`);
        try {
          resolveParams(def, g.quick ?? false, set);
        } catch (e) {
          throw new UserError(`${where} (${label}): ${(e as Error).message}`);
        }
        for (const seed of sds) rows.push({ index: rows.length, label, experiment: g.experiment, quick: g.quick ?? false, set, seed, backend: g.backend ?? 'auto', ...(g.dtype ? { dtype: g.dtype } : {}), ...(g.paper ? { paper: g.paper } : {}) });
      }
    }
  });
  const seen = new Set<string>();
  for (const r of rows) {
    const key = `${r.label}\u0000${r.seed}`;
    if (seen.has(key)) throw new UserError(`${what}: two rows are the same setting '${r.label}' with seed ${r.seed} (give the groups or settings distinct labels)`);
    seen.add(key);
  }
  return rows;
}
