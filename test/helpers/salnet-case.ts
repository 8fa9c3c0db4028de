/** A small 4-layer SalNet with random forward and feedback weights and varied biases (test/spiking.test.ts, alloc case). */
import { SalNet } from '../../src/spiking/salnet.js';
import { Rng } from '../../src/util/rng.js';

export function filledSalNet(engine: 'js' | 'wasm', mode: 'event' | 'dense', nLast = 2, span?: number): SalNet {
  const rng = new Rng(5);
  const net = new SalNet({ sizes: [12, 7, 5, 3], batch: 3, tauRef: 6, nLast, span, mode, engine, seed: 4 });
  for (let g = 0; g < 3; g++) {
    for (let q = 0; q < net.fw[g].W.length; q++) net.fw[g].W[q] = rng.range(-2.5, 2.5);
    for (let q = 0; q < net.fb[g].W.length; q++) net.fb[g].W[q] = rng.range(-2.5, 2.5);
    net.fw[g].changed();
    net.fb[g].changed();
  }
  net.bias.forEach((b, l) => b.forEach((_, i) => (b[i] = -0.8 + 0.1 * ((i + l) % 5))));
  return net;
}
