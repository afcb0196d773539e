import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '@lab/tensor';
import { flashForwardWasm, flashForwardFallback } from './src/kernels/flash.js';
await initBackend('wasm');
const H = 8, D = 64, L = Number(process.env.L ?? 1024);
const n = H * L * D;
const q = Float32Array.from({ length: n }, () => Math.random() - 0.5);
const k = Float32Array.from({ length: n }, () => Math.random() - 0.5);
const v = Float32Array.from({ length: n }, () => Math.random() - 0.5);
for (const causal of [false, true]) {
  const p = { batch: 1, headsQ: H, group: 1, L, S: L, D, scale: 0.125, left: -1, right: causal ? 0 : -1, offset: 0, blockRows: 32, blockCols: Number(process.env.BC ?? 64) };
  flashForwardWasm(p, q, k, v);
  let t = Infinity;
  for (let i = 0; i < 8; i++) { const t0 = performance.now(); flashForwardWasm(p, q, k, v); t = Math.min(t, performance.now() - t0); }
  const flops = 4 * H * L * L * D * (causal ? 0.5 : 1);
  console.log(`L=${L} causal=${causal} kernel ${t.toFixed(1)}ms ${(flops / t / 1e6).toFixed(1)} GFLOP/s`);
  const tq = performance.now(); const x = tf.tensor(q, [1, H, L, D]); x.dataSync(); x.dispose(); console.log('upload+read', (performance.now() - tq).toFixed(1));
}
const { flashAttention } = await import('./src/index.js');
const tq = tf.tensor(q, [1, H, L, D]), tk = tf.tensor(k, [1, H, L, D]), tv = tf.tensor(v, [1, H, L, D]);
for (const causal of [false, true]) {
  let t = Infinity;
  for (let i = 0; i < 8; i++) { const t0 = performance.now(); tf.dispose(flashAttention(tq, tk, tv, { causal })); t = Math.min(t, performance.now() - t0); }
  console.log(`flashAttention causal=${causal} ${t.toFixed(1)}ms`);
}
process.exit(0);
