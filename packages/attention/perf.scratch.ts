import * as tf from '@tensorflow/tfjs-core';
import { initBackend, initThreads } from '@lab/tensor';
import { flashAttention, scaledDotProductAttention } from './src/index.js';
import { naiveAttention } from './src/sdpa.js';

await initBackend('wasm');
const threads = Number(process.env.THREADS ?? 1);
if (threads > 1) await initThreads(threads);
const H = 8, D = 64;
function time(f: () => void, n = 3) {
  f();
  const ts: number[] = [];
  for (let i = 0; i < n; i++) { const t0 = performance.now(); f(); ts.push(performance.now() - t0); }
  ts.sort((a, b) => a - b);
  return ts[Math.floor(n / 2)]!;
}
for (const L of (process.env.LS ?? '512,1024,2048').split(',').map(Number)) {
  const q = tf.randomNormal([1, H, L, D]), k = tf.randomNormal([1, H, L, D]), v = tf.randomNormal([1, H, L, D]);
  for (const causal of [false, true]) {
    const flops = 4 * H * L * L * D * (causal ? 0.5 : 1);
    const tc = time(() => tf.dispose(scaledDotProductAttention(q, k, v, { causal })));
    const tn = process.env.NAIVE ? time(() => tf.dispose(naiveAttention(q, k, v, { causal }))) : NaN;
    const tfl = time(() => tf.dispose(flashAttention(q, k, v, { causal })));
    const g = (f: any) => () => tf.dispose(tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => f(a, b, c, { causal }))([q, k, v]));
    const tcb = process.env.BWD ? time(g(scaledDotProductAttention), 2) : NaN;
    const tfb = process.env.BWD ? time(g(flashAttention), 2) : NaN;
    console.log(`L=${L} causal=${causal} composite ${tc.toFixed(1)}ms naive ${tn.toFixed(1)} flash ${tfl.toFixed(1)}ms (${(flops / tfl / 1e6).toFixed(1)} GFLOP/s) ratio ${(tc / tfl).toFixed(2)} | fwd+bwd composite ${tcb.toFixed(0)} flash ${tfb.toFixed(0)} ratio ${(tcb / tfb).toFixed(2)}`);
  }
  tf.dispose([q, k, v]);
}
process.exit(0);
