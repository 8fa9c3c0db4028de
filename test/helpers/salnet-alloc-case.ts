/**
 * test/helpers/salnet-alloc-case.ts ENGINE prints {"real": bytes/step of a SalNet run, "ctl": bytes/step of an
 * allocating control}, measured in a fresh process (test/spiking.test.ts runs it), so that the verdict does not
 * depend on what other tests did to V8's type feedback for the shared step functions.
 */
import { medianBytesPerStep } from './heap.js';
import { filledSalNet } from './salnet-case.js';

const engine = process.argv[2] as 'js' | 'wasm';
const net = filledSalNet(engine, 'event');
// warm-up: many calls, so that run itself is optimised (not only entered by on-stack replacement from baseline code
// that boxes numbers for its first iterations on every call)
for (let c = 0; c < 500; c++) net.run(20);
const real = medianBytesPerStep(() => net.run(1000), 1, 21) / 1000;
let sink = 0;
const ctl = medianBytesPerStep(() => (sink += new Float64Array(8).length), 1000, 21);
console.log(JSON.stringify({ real, ctl, sink: sink > 0 }));
