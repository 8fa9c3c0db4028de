/**
 * CPU ms per whole LE LeNet step (B = 128, learning on) of one checkout: `node --import tsx bench/le-step-cpu.ts DIR
 * [cifar|mnist]` (DIR: a checkout with node_modules and its native addon; run with GLE_NATIVE_THREADS=1). Median of
 * 6 steps after 3 warm-up steps, process CPU time (user + system). Run it for two checkouts back to back to compare.
 */
const root = process.argv[2] ?? process.cwd(), which = process.argv[3] ?? 'cifar';
const { createNodeBackend } = await import(`${root}/src/node.ts`);
const { LENetwork } = await import(`${root}/src/model/le-network.ts`);
const E = await import(`${root}/src/experiments/le.ts`);
const k = await createNodeBackend('native', 'float32', () => {});
const B = 128;
const net = new LENetwork(k, E.leRunSpec(which === 'cifar' ? E.LE_CIFAR10_LENET : E.LE_MNIST_LENET, 1), B);
const x = new Float64Array(B * net.nIn), y = new Float64Array(B * 10);
for (let i = 0; i < x.length; i++) x[i] = (i * 7919) % 256 / 255;
for (let b = 0; b < B; b++) y[b * 10 + (b % 10)] = 1;
for (let i = 0; i < 3; i++) net.step(x, y);
const t: number[] = [];
for (let i = 0; i < 6; i++) { const c = process.cpuUsage(); net.step(x, y); const d = process.cpuUsage(c); t.push((d.user + d.system) / 1e3); }
t.sort((a, b) => a - b);
console.log(root, which, 'CPU ms per step, median of 6:', t[3].toFixed(1), t.map((v) => v.toFixed(0)).join(' '));
