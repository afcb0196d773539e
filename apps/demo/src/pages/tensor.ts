/**
 * @lab/tensor: the counter-based RNG (Philox-4x32-10) drawing a histogram of normals, uploaded to the wasm
 * backend and reduced there, against the standard normal density.
 */
import { createRng, philox4x32 } from '@lab/tensor';
import * as tf from '@tensorflow/tfjs-core';
import type { DemoPage } from '../page.js';

const BINS = 60;
const RANGE = 4;

function draw(canvas: HTMLCanvasElement, counts: Float32Array, n: number): void {
  const ctx = canvas.getContext('2d')!;
  const { width, height } = canvas;
  const m = { left: 56, right: 16, top: 16, bottom: 44 };
  const w = width - m.left - m.right;
  const h = height - m.top - m.bottom;
  const binWidth = (2 * RANGE) / BINS;
  const density = Array.from(counts, (c) => c / (n * binWidth));
  const yMax = 0.45;
  ctx.clearRect(0, 0, width, height);
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, width, height);
  const sx = (x: number) => m.left + ((x + RANGE) / (2 * RANGE)) * w;
  const sy = (y: number) => m.top + h - (y / yMax) * h;
  ctx.fillStyle = '#8fb3e8';
  density.forEach((d, i) => {
    const x0 = sx(-RANGE + i * binWidth);
    const x1 = sx(-RANGE + (i + 1) * binWidth);
    ctx.fillRect(x0, sy(Math.min(d, yMax)), x1 - x0 - 1, m.top + h - sy(Math.min(d, yMax)));
  });
  ctx.strokeStyle = '#c0392b';
  ctx.lineWidth = 2;
  ctx.beginPath();
  for (let i = 0; i <= 200; i++) {
    const x = -RANGE + (i / 200) * 2 * RANGE;
    const y = Math.exp((-x * x) / 2) / Math.sqrt(2 * Math.PI);
    if (i === 0) ctx.moveTo(sx(x), sy(y));
    else ctx.lineTo(sx(x), sy(y));
  }
  ctx.stroke();
  ctx.strokeStyle = '#333';
  ctx.lineWidth = 1;
  ctx.beginPath();
  ctx.moveTo(m.left, m.top);
  ctx.lineTo(m.left, m.top + h);
  ctx.lineTo(m.left + w, m.top + h);
  ctx.stroke();
  ctx.fillStyle = '#333';
  ctx.font = '12px sans-serif';
  ctx.textAlign = 'center';
  for (let x = -RANGE; x <= RANGE; x++) ctx.fillText(String(x), sx(x), m.top + h + 16);
  ctx.fillText('value z', m.left + w / 2, height - 8);
  ctx.textAlign = 'right';
  for (let y = 0; y <= 0.4; y += 0.1) ctx.fillText(y.toFixed(1), m.left - 6, sy(y) + 4);
  ctx.save();
  ctx.translate(14, m.top + h / 2);
  ctx.rotate(-Math.PI / 2);
  ctx.textAlign = 'center';
  ctx.fillText('density', 0, 0);
  ctx.restore();
}

export const page: DemoPage = {
  id: 'tensor',
  title: 'Tensor & RNG',
  summary:
    'A counter-based random generator whose streams are bit-identical in Node, every browser and every backend.',
  references:
    'Salmon et al. 2011, "Parallel random numbers: as easy as 1, 2, 3" (Philox-4x32-10); Box & Muller 1958',
  async mount(root) {
    root.innerHTML = `
      <p>Each value is a pure function of (seed, position): Philox-4x32-10 turns a counter and a key into four
      32-bit words with ten rounds of multiply–xor, and the Box–Muller transform
      <code>z = √(−2 ln u₁) · cos(2π u₂)</code> turns pairs of words into normals, using only IEEE arithmetic so
      that no engine's <code>Math.log</code> can change a bit. The histogram is computed on the wasm backend
      (binned with <code>tf.floor</code> and counted with <code>tf.bincount</code>).</p>
      <div class="controls">
        <label>seed <input type="range" min="0" max="100" value="42" data-main-control aria-label="seed"/> <output></output></label>
        <label>samples <select><option>1000</option><option selected>20000</option><option>200000</option></select></label>
      </div>
      <canvas width="720" height="360" data-main-output aria-label="histogram of normal samples"></canvas>
      <p class="kat"></p>
      <pre><code>import { createRng } from '@lab/tensor';
const rng = createRng(42);
const z = rng.normal([20000]);       // float32 tensor, same bits everywhere
const child = rng.fork();            // an independent stream</code></pre>`;
    const seed = root.querySelector<HTMLInputElement>('input[type=range]')!;
    const output = root.querySelector('output')!;
    const samples = root.querySelector('select')!;
    const canvas = root.querySelector('canvas')!;
    const kat = root.querySelector<HTMLParagraphElement>('.kat')!;
    const block = philox4x32(0, 0, 0, 0, 0, 0, new Uint32Array(4));
    kat.textContent = `Known answer (Random123): philox4x32-10(counter 0, key 0) = ${Array.from(block, (w) => w.toString(16).padStart(8, '0')).join(' ')}`;
    const render = () => {
      const n = Number(samples.value);
      output.textContent = seed.value;
      const counts = tf.tidy(() => {
        const z = createRng(Number(seed.value)).normal([n]);
        const bins = tf.cast(
          tf.floor(tf.div(tf.add(tf.clipByValue(z, -RANGE, RANGE - 1e-6), RANGE), (2 * RANGE) / BINS)),
          'int32',
        );
        return tf.bincount(bins as tf.Tensor1D, tf.tensor1d([], 'float32'), BINS);
      });
      draw(canvas, counts.dataSync() as Float32Array, n);
      counts.dispose();
    };
    seed.addEventListener('input', render);
    samples.addEventListener('change', render);
    render();
  },
};
