/**
 * A/B speed of two builds of this repository in ONE process: `node --import tsx bench/ab.ts OLD_DIR NEW_DIR
 * [ROUNDS] [wasm,native]` (each DIR a checkout with node_modules and, for native, its addon built; run with
 * GLE_NATIVE_THREADS=1). The MNIST-1D 15k / 42k (B = 100) and speech (B = 256) training steps of `npm run bench`
 * alternate between the builds in short slices (order flipped every round) and are timed in CPU time (user + system)
 * as well as wall time, so load from other processes on a shared machine falls on both builds alike; medians.
 */
const [oldDir, newDir] = process.argv.slice(2, 4);
if (!oldDir || !newDir) {
  console.error('usage: node --import tsx bench/ab.ts OLD_DIR NEW_DIR [ROUNDS] [wasm,native]');
  process.exit(2);
}
const trees = { old: oldDir, new: newDir } as const;
const mods: Record<string, any> = {};
for (const [k, root] of Object.entries(trees)) {
  mods[k] = {
    node: await import(`${root}/src/node.ts`),
    net: await import(`${root}/src/model/network.ts`),
    learner: await import(`${root}/src/learn/learner.ts`),
    reg: await import(`${root}/src/experiments/registry.ts`),
  };
}
const cases = [
  { name: 'mnist15k', exp: 'mnist1d-15k', B: 100, slice: { wasm: 150, native: 300 } },
  { name: 'mnist42k', exp: 'mnist1d-42k', B: 100, slice: { wasm: 60, native: 150 } },
  { name: 'gsc', exp: 'gsc', B: 256, slice: { wasm: 1, native: 3 } },
];
const ROUNDS = Number(process.argv[4] ?? 15);
const backends = (process.argv[5] ?? 'wasm,native').split(',');
function make(m: any, k: any, c: any) {
  const p = m.reg.findExperiment(c.exp).params;
  const net = new m.net.GLENetwork({ ...p.network, dtype: 'float32' }, k, { batchSize: c.B });
  const learner = new m.learner.Learner(net);
  const x = new Float32Array(c.B * net.nIn), y = new Int32Array(c.B);
  for (let i = 0; i < c.B; i++) y[i] = i % net.nOut;
  let t = 0;
  return () => { x.fill(Math.sin(0.1 * t++)); learner.trainStep(x, y); };
}
const median = (a: number[]) => { const s = [...a].sort((x, y) => x - y); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
for (const bname of backends) {
  const ks: Record<string, any> = {};
  for (const v of ['old', 'new']) ks[v] = await mods[v].node.createNodeBackend(bname, 'float32', () => {});
  for (const c of cases) {
    const n = (c.slice as any)[bname];
    const steps: Record<string, () => void> = { old: make(mods.old, ks.old, c), new: make(mods.new, ks.new, c) };
    for (const v of ['old', 'new']) for (let i = 0; i < Math.max(2, n); i++) steps[v]();
    const cpu: Record<string, number[]> = { old: [], new: [] }, wall: Record<string, number[]> = { old: [], new: [] };
    for (let r = 0; r < ROUNDS; r++) {
      for (const v of r % 2 ? ['new', 'old'] : ['old', 'new']) {
        const c0 = process.cpuUsage(), w0 = performance.now();
        for (let i = 0; i < n; i++) steps[v]();
        const cu = process.cpuUsage(c0);
        cpu[v].push(n / ((cu.user + cu.system) / 1e6));
        wall[v].push(n / ((performance.now() - w0) / 1e3));
      }
    }
    const mo = median(cpu.old), mn = median(cpu.new), wo = median(wall.old), wn = median(wall.new);
    console.log(`${bname} ${c.name}: steps per CPU-second old ${mo.toFixed(1)} new ${mn.toFixed(1)} (new/old ${(mn / mo).toFixed(3)}); wall steps/s old ${wo.toFixed(1)} new ${wn.toFixed(1)} (${(wn / wo).toFixed(3)}); ${ROUNDS} alternations of ${n} steps`);
  }
}
