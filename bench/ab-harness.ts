/**
 * The A/B harness of bench/ab.ts and bench/ab-le.ts: two builds of this repository (OLD_DIR and NEW_DIR on the
 * command line, each a checkout with node_modules and, for native, its addon built) loaded into ONE process. Each
 * case's step alternates between the builds in short slices (order flipped every round) and is timed in CPU time
 * (user + system) as well as wall time, so load from other processes on a shared machine falls on both builds alike;
 * the medians over the rounds are printed, one line a backend and case.
 */
import { median } from '../src/util/stats.js';

export interface AbCase {
  name: string;
  /** steps per timed slice, per backend */
  slice: Record<string, number>;
}

export interface AbBench<M, C extends AbCase> {
  /** the command line after OLD_DIR NEW_DIR, for the usage line (`[ROUNDS] [wasm,native] …`) */
  usage: string;
  /** what a case needs of one build, from its root directory */
  load(root: string): Promise<M>;
  cases: C[];
  /** one step of case c in build m on its backend k (made once per build, backend and case) */
  make(m: M, k: unknown, c: C): () => void;
  defaultRounds: number;
  /** comma-separated */
  defaultBackends: string;
  /** what the line names after the backend (default: the case's name) */
  title?(c: C): string;
  /** decimals of the steps-per-second figures and of the new/old ratios */
  digits: [number, number];
}

/** Run the A/B comparison: argv 2, 3 the two builds, 4 the rounds, 5 the backends (argv 6 on is the caller's). */
export async function runAb<M, C extends AbCase>(script: string, b: AbBench<M, C>): Promise<void> {
  const [oldDir, newDir] = process.argv.slice(2, 4);
  if (!oldDir || !newDir) {
    console.error(`usage: node --import tsx ${script} OLD_DIR NEW_DIR ${b.usage}`);
    process.exit(2);
  }
  const versions = ['old', 'new'] as const;
  type V = (typeof versions)[number];
  const roots: Record<V, string> = { old: oldDir, new: newDir };
  const mods = {} as Record<V, { node: any; m: M }>;
  for (const v of versions) mods[v] = { node: await import(`${roots[v]}/src/node.ts`), m: await b.load(roots[v]) };
  const ROUNDS = Number(process.argv[4] ?? b.defaultRounds);
  const backends = (process.argv[5] ?? b.defaultBackends).split(',');
  const [d, dr] = b.digits;
  for (const bname of backends) {
    const ks = {} as Record<V, unknown>;
    for (const v of versions) ks[v] = await mods[v].node.createNodeBackend(bname, 'float32', () => {});
    for (const c of b.cases) {
      const n = c.slice[bname];
      const steps: Record<V, () => void> = { old: b.make(mods.old.m, ks.old, c), new: b.make(mods.new.m, ks.new, c) };
      for (const v of versions) for (let i = 0; i < Math.max(2, n); i++) steps[v]();
      const cpu: Record<V, number[]> = { old: [], new: [] }, wall: Record<V, number[]> = { old: [], new: [] };
      for (let r = 0; r < ROUNDS; r++) {
        for (const v of r % 2 ? (['new', 'old'] as const) : versions) {
          const c0 = process.cpuUsage(), w0 = performance.now();
          for (let i = 0; i < n; i++) steps[v]();
          const cu = process.cpuUsage(c0);
          cpu[v].push(n / ((cu.user + cu.system) / 1e6));
          wall[v].push(n / ((performance.now() - w0) / 1e3));
        }
      }
      const mo = median(cpu.old), mn = median(cpu.new), wo = median(wall.old), wn = median(wall.new);
      const title = b.title ? b.title(c) : c.name;
      console.log(`${bname} ${title}: steps per CPU-second old ${mo.toFixed(d)} new ${mn.toFixed(d)} (new/old ${(mn / mo).toFixed(dr)}); wall steps/s old ${wo.toFixed(d)} new ${wn.toFixed(d)} (${(wn / wo).toFixed(dr)}); ${ROUNDS} alternations of ${n} steps`);
    }
  }
}
