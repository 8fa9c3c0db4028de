/**
 * A/B speed of the LE LeNet step in two builds of this repository in ONE process (issue 14's conv speed work):
 * `node --import tsx bench/ab-le.ts OLD_DIR NEW_DIR [ROUNDS] [native,wasm] [batch]` (each DIR a checkout with
 * node_modules and, for native, its addon built; run with GLE_NATIVE_THREADS=1). One whole LE training step of the
 * MNIST LeNet (1→20 k5, pool, 20→50 k5, pool, 500, 10) and of the CIFAR-10 LeNet (3→20 …) at batch 128 (the
 * experiments' defaults, learning on) alternate between the builds (order flipped every round) and are timed in CPU
 * time (user + system) as well as wall time, so load from other processes falls on both builds alike; medians.
 */
const [oldDir, newDir] = process.argv.slice(2, 4);
if (!oldDir || !newDir) {
  console.error('usage: node --import tsx bench/ab-le.ts OLD_DIR NEW_DIR [ROUNDS] [native,wasm] [batch]');
  process.exit(2);
}
const trees = { old: oldDir, new: newDir } as const;
const mods: Record<string, any> = {};
for (const [k, root] of Object.entries(trees)) {
  mods[k] = {
    node: await import(`${root}/src/node.ts`),
    le: await import(`${root}/src/model/le-network.ts`),
    exp: await import(`${root}/src/experiments/le.ts`),
  };
}
const ROUNDS = Number(process.argv[4] ?? 5);
const backends = (process.argv[5] ?? 'native').split(',');
const B = Number(process.argv[6] ?? 128);
const cases = [
  { name: 'le-lenet-mnist', p: 'LE_MNIST_LENET', slice: { wasm: 1, native: 2 } },
  { name: 'le-lenet-cifar', p: 'LE_CIFAR10_LENET', slice: { wasm: 1, native: 2 } },
];
function make(m: any, k: any, c: (typeof cases)[number]) {
  const net = new m.le.LENetwork(k, m.exp.leRunSpec(m.exp[c.p], 1), B);
  const x = new Float64Array(B * net.nIn), y = new Float64Array(B * 10);
  for (let i = 0; i < x.length; i++) x[i] = (i * 7919) % 256 / 255;
  for (let b = 0; b < B; b++) y[b * 10 + (b % 10)] = 1;
  return () => net.step(x, y);
}
const median = (a: number[]) => { const s = [...a].sort((x, y) => x - y); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
for (const bname of backends) {
  const ks: Record<string, any> = {};
  for (const v of ['old', 'new']) ks[v] = await mods[v].node.createNodeBackend(bname, 'float32', () => {});
  for (const c of cases) {
    const n = (c.slice as any)[bname];
    const steps: Record<string, () => void> = { old: make(mods.old, ks.old, c), new: make(mods.new, ks.new, c) };
    for (const v of ['old', 'new']) for (let i = 0; i < 2; i++) steps[v]();
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
    console.log(`${bname} ${c.name} B=${B}: steps per CPU-second old ${mo.toFixed(2)} new ${mn.toFixed(2)} (new/old ${(mn / mo).toFixed(2)}); wall steps/s old ${wo.toFixed(2)} new ${wn.toFixed(2)} (${(wn / wo).toFixed(2)}); ${ROUNDS} alternations of ${n} steps`);
  }
}
