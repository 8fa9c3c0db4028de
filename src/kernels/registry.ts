/**
 * The kernel registry: named kernels beyond the `Backend` core (gemm, activate, adam, the fused dense GLE step),
 * looked up per backend like tfjs-core's registry. A kernel registered for '*' is the generic implementation: it
 * works on every backend because it touches buffers only through their current views (`buf.a`) and the backend's
 * core primitives. A backend may register its own faster version under the same name (a SIMD population step, a
 * GPU shader); `getKernel` prefers it. The generic versions are the test oracle of the specialised ones.
 *
 * Registered here: 'gle.neurons', 'le.neurons' and 'relay.neurons' (population steps), 'im2col', 'col2im', 'maxpool.forward',
 * 'maxpool.backward', 'bias.add', 'bias.grad', 'permute.fbp' (F × B·P ⇄ B × F·P), 'conv.forward', 'conv.backward',
 * 'conv.grads' (a conv stage's products one batch row at a time, in the layout of its maps). See generic.ts for their
 * contracts. The native and wasm backends register their own im2col, col2im, permute.fbp, bias.grad and conv.*
 * (src/kernels/native/index.ts, src/kernels/wasm/index.ts).
 */
import type { Backend } from './types.js';
import * as generic from './generic.js';
import { leNeurons } from '../model/layers/le.js';

export type KernelImpl<A> = (k: Backend, a: A) => void;
export type BackendKind = Backend['name'] | '*';

const table = new Map<string, Map<string, KernelImpl<never>>>();

/** Register `impl` as kernel `name` for one backend kind ('*' = every backend, the generic fallback). */
export function registerKernel<A>(name: string, backend: BackendKind, impl: KernelImpl<A>): void {
  let m = table.get(name);
  if (!m) table.set(name, (m = new Map()));
  m.set(backend, impl as KernelImpl<never>);
}

/** The implementation of `name` for backend k: its own, else the generic one. Look it up once, outside hot loops. */
export function getKernel<A>(k: Backend, name: string): KernelImpl<A> {
  const m = table.get(name);
  const impl = m?.get(k.name) ?? m?.get('*');
  if (!impl) throw new Error(`no kernel '${name}' registered for the ${k.name} backend`);
  return impl as unknown as KernelImpl<A>;
}

/** Every registered kernel and the backends with their own implementation (for `backend info` and docs). */
export function listKernels(): { name: string; backends: string[] }[] {
  return [...table.entries()].map(([name, m]) => ({ name, backends: [...m.keys()] }));
}

registerKernel('gle.neurons', '*', generic.gleNeurons);
registerKernel('relay.neurons', '*', generic.relayNeurons);
registerKernel('le.neurons', '*', leNeurons);
registerKernel('im2col', '*', generic.im2col);
registerKernel('col2im', '*', generic.col2im);
registerKernel('maxpool.forward', '*', generic.maxpoolForward);
registerKernel('maxpool.backward', '*', generic.maxpoolBackward);
registerKernel('bias.add', '*', generic.biasAdd);
registerKernel('bias.grad', '*', generic.biasGrad);
registerKernel('permute.fbp', '*', generic.permuteFBP);
registerKernel('conv.forward', '*', generic.convForward);
registerKernel('conv.backward', '*', generic.convBackward);
registerKernel('conv.grads', '*', generic.convGrads);
