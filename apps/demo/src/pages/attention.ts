/**
 * The @lab/attention demo: attention maps under each sparse pattern (mask and probabilities drawn side by
 * side), and a live chart of FlashAttention against the composite, time and peak memory as L grows.
 */
import {
  bigBirdMask,
  compileAttentionKernels,
  flashAttention,
  longformerMask,
  slidingWindowMask,
  stridedMask,
} from '@lab/attention';
import * as tf from '@tensorflow/tfjs-core';
import type { DemoPage } from '../page.js';
import type { BenchPoint, MeasureEvent, MeasureRequest } from '../workers/attention-measure.worker.js';
import { absoluteWasmPaths } from '../workers/urls.js';
import { svgEl } from '../ui.js';

const L = 64;
const D = 16;

type Pattern = 'full' | 'causal' | 'window' | 'strided' | 'fixed' | 'longformer' | 'bigbird';

const PATTERNS: Record<Pattern, string> = {
  full: 'Full (dense softmax attention)',
  causal: 'Causal (query i sees keys j ≤ i)',
  window: 'Sliding window (±6, causal)',
  strided: 'Strided, Sparse Transformer (stride 8, union of both heads)',
  fixed: 'Fixed, Sparse Transformer (blocks of 8, 2 summary columns)',
  longformer: 'Longformer (window ±4, global tokens 0 and 32)',
  bigbird: 'BigBird (blocks of 8: window 3, 1 global, 2 random)',
};

/** The pattern's bool mask [L, L] (undefined: no mask) and whether the attention call is causal. */
function patternMask(pattern: Pattern): { mask?: tf.Tensor; causal: boolean } {
  switch (pattern) {
    case 'full':
      return { causal: false };
    case 'causal':
      return { causal: true };
    case 'window':
      return { mask: slidingWindowMask(L, 6, { causal: true }), causal: false };
    case 'strided':
      return { mask: stridedMask(L, 8, { combine: true }), causal: false };
    case 'fixed':
      return { mask: stridedMask(L, 8, { mode: 'fixed', summary: 2, combine: true }), causal: false };
    case 'longformer':
      return { mask: longformerMask(L, 4, [0, 32]), causal: false };
    case 'bigbird':
      return { mask: bigBirdMask(L, { blockSize: 8, seed: 1 }), causal: false };
  }
}

/** Deterministic pseudo-random normals (so the picture is the same on every load). */
function normals(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const next = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s + 0.5) / 4294967296;
  };
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.sqrt(-2 * Math.log(next())) * Math.cos(2 * Math.PI * next());
  return out;
}

/**
 * The attention probabilities P [L, L] of the pattern, from FlashAttention's logsumexp:
 * P_ij = exp(s_ij − lse_i) on visible entries (0 elsewhere), with s = q·k / √D.
 */
function attentionMap(pattern: Pattern): { visible: Float32Array; probabilities: Float32Array } {
  return tf.tidy(() => {
    const positions = Float32Array.from({ length: L * D }, (_, n) => {
      const i = Math.floor(n / D);
      const d = n % D;
      return Math.cos((i * (d + 1)) / 12); // smooth positional structure so that maps show bands
    });
    const noise = normals(L * D, 7);
    const q = tf.tensor4d(
      positions.map((p, n) => p + 0.3 * noise[n]!),
      [1, 1, L, D],
    );
    const k = tf.tensor4d(positions, [1, 1, L, D]);
    const { mask, causal } = patternMask(pattern);
    const { lse } = flashAttention(q, k, k, { mask, causal, returnLse: true });
    const scores = tf.mul(
      tf.matMul(tf.reshape(q, [L, D]), tf.reshape(k, [L, D]), false, true),
      1 / Math.sqrt(D),
    );
    let visible = mask ? tf.cast(mask, 'float32') : tf.ones([L, L]);
    if (causal)
      visible = tf.mul(
        visible,
        tf.tensor2d(
          Float32Array.from({ length: L * L }, (_, n) => (n % L <= Math.floor(n / L) ? 1 : 0)),
          [L, L],
        ),
      );
    const p = tf.mul(tf.exp(tf.sub(scores, tf.reshape(lse, [L, 1]))), visible);
    return { visible: visible.dataSync() as Float32Array, probabilities: p.dataSync() as Float32Array };
  });
}

function heat(t: number): [number, number, number] {
  // A perceptually ordered ramp: dark blue → teal → yellow.
  const x = Math.max(0, Math.min(1, t));
  return [
    Math.round(255 * Math.min(1, 1.8 * x * x)),
    Math.round(255 * Math.min(1, 0.15 + 1.1 * x)),
    Math.round(255 * (0.35 + 0.45 * (1 - x))),
  ];
}

/** Draws an [L, L] matrix with axis labels on a canvas. */
function drawMatrix(
  canvas: HTMLCanvasElement,
  values: Float32Array,
  title: string,
  color: (v: number) => [number, number, number],
) {
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  const margin = 34;
  const cell = (canvas.width - margin - 6) / L;
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  for (let i = 0; i < L; i++) {
    for (let j = 0; j < L; j++) {
      const [r, g, b] = color(values[i * L + j]!);
      ctx.fillStyle = `rgb(${r},${g},${b})`;
      ctx.fillRect(margin + j * cell, 22 + i * cell, Math.ceil(cell), Math.ceil(cell));
    }
  }
  ctx.fillStyle = '#222';
  ctx.font = '12px sans-serif';
  ctx.fillText(title, margin, 14);
  ctx.font = '10px sans-serif';
  for (const tick of [0, 16, 32, 48, 63]) {
    ctx.fillText(String(tick), margin + tick * cell, canvas.height - 4);
    ctx.fillText(String(tick), 4, 22 + tick * cell + 8);
  }
  ctx.save();
  ctx.translate(12, 22 + (L * cell) / 2 + 40);
  ctx.rotate(-Math.PI / 2);
  ctx.fillText('query position i', 0, 0);
  ctx.restore();
  ctx.fillText('key position j', margin + (L * cell) / 2 - 30, canvas.height - 16);
}

/** A log–log line chart of two series against L. */
function drawChart(svg: SVGSVGElement, points: BenchPoint[], which: 'time' | 'memory', lengths: number[]) {
  while (svg.firstChild) svg.removeChild(svg.firstChild);
  const width = 320;
  const height = 220;
  const m = { left: 56, right: 12, top: 22, bottom: 40 };
  const series =
    which === 'time'
      ? [
          { name: 'composite', color: '#c0392b', values: points.map((p) => p.compositeMs) },
          { name: 'flash', color: '#2471a3', values: points.map((p) => p.flashMs) },
        ]
      : [
          { name: 'composite', color: '#c0392b', values: points.map((p) => p.compositeBytes / 2 ** 20) },
          { name: 'flash', color: '#2471a3', values: points.map((p) => p.flashBytes / 2 ** 20) },
        ];
  const all = series.flatMap((s) => s.values).filter((v) => v > 0);
  const lo = Math.log10(Math.min(...all, 1) / 1.5);
  const hi = Math.log10(Math.max(...all, 10) * 1.5);
  const x = (l: number) =>
    m.left +
    ((Math.log2(l) - Math.log2(lengths[0]!)) / (Math.log2(lengths.at(-1)!) - Math.log2(lengths[0]!))) *
      (width - m.left - m.right);
  const y = (v: number) =>
    height - m.bottom - ((Math.log10(v) - lo) / (hi - lo)) * (height - m.top - m.bottom);
  svg.append(
    svgEl('line', {
      x1: m.left,
      y1: height - m.bottom,
      x2: width - m.right,
      y2: height - m.bottom,
      stroke: '#444',
    }),
  );
  svg.append(svgEl('line', { x1: m.left, y1: m.top, x2: m.left, y2: height - m.bottom, stroke: '#444' }));
  for (const l of lengths) {
    const t = svgEl('text', { x: x(l) - 10, y: height - m.bottom + 14, 'font-size': 10 });
    t.textContent = String(l);
    svg.append(t);
  }
  for (let e = Math.ceil(lo); e <= Math.floor(hi); e++) {
    const t = svgEl('text', { x: 4, y: y(10 ** e) + 3, 'font-size': 10 });
    t.textContent = e >= 0 ? String(10 ** e) : (10 ** e).toString();
    svg.append(t);
    svg.append(svgEl('line', { x1: m.left - 3, y1: y(10 ** e), x2: m.left, y2: y(10 ** e), stroke: '#444' }));
  }
  const xl = svgEl('text', { x: width / 2 - 40, y: height - 6, 'font-size': 11 });
  xl.textContent = 'sequence length L (log)';
  svg.append(xl);
  const title = svgEl('text', { x: m.left, y: 14, 'font-size': 12 });
  title.textContent = which === 'time' ? 'forward time, ms (log)' : 'peak memory, MiB (log)';
  svg.append(title);
  series.forEach((s, n) => {
    const pts = s.values.map((v, i) => `${x(points[i]!.L)},${y(Math.max(v, 1e-3))}`).join(' ');
    svg.append(svgEl('polyline', { points: pts, fill: 'none', stroke: s.color, 'stroke-width': 2 }));
    s.values.forEach((v, i) => {
      svg.append(svgEl('circle', { cx: x(points[i]!.L), cy: y(Math.max(v, 1e-3)), r: 3, fill: s.color }));
    });
    const label = svgEl('text', {
      x: width - 80,
      y: m.top + 12 + 14 * n,
      fill: s.color,
      'font-size': 11,
    });
    label.textContent = s.name;
    svg.append(label);
  });
}

let worker: Worker | undefined;

export const page: DemoPage = {
  id: 'attention',
  title: 'Attention: FlashAttention, sparse patterns, linear attention',
  summary:
    'Exact attention tiled with an online softmax on WebAssembly SIMD, and the sparse patterns it skips.',
  references:
    'Vaswani et al. 2017; Dao et al. 2022, 2023; Child et al. 2019; Beltagy et al. 2020; Zaheer et al. 2020',
  async mount(root: HTMLElement) {
    await compileAttentionKernels(); // in case this page is loaded after initBackend
    root.innerHTML = '';
    const intro = document.createElement('p');
    intro.innerHTML =
      'Attention computes <code>softmax(q·kᵀ/√D + mask) v</code>. FlashAttention (Dao et al. 2022) walks the keys block by ' +
      'block with an online softmax — a running maximum <i>m</i>, sum <i>ℓ</i> and output per query row — so the L × S score matrix ' +
      'never exists in memory, and blocks that a causal or sparse mask leaves empty are skipped. The maps below are the ' +
      'probabilities <code>P<sub>ij</sub> = exp(s<sub>ij</sub> − lse<sub>i</sub>)</code>, rebuilt from the logsumexp that ' +
      '<code>flashAttention(..., { returnLse: true })</code> returns.';
    root.append(intro);

    const label = document.createElement('label');
    label.textContent = 'Pattern: ';
    const select = document.createElement('select');
    select.setAttribute('data-main-control', '');
    for (const [value, text] of Object.entries(PATTERNS)) {
      const option = document.createElement('option');
      option.value = value;
      option.textContent = text;
      select.append(option);
    }
    label.append(select);
    root.append(label);

    const maps = document.createElement('div');
    maps.setAttribute('data-main-output', '');
    maps.style.display = 'flex';
    maps.style.gap = '16px';
    maps.style.flexWrap = 'wrap';
    const maskCanvas = document.createElement('canvas');
    const mapCanvas = document.createElement('canvas');
    for (const c of [maskCanvas, mapCanvas]) {
      c.width = 300;
      c.height = 310;
      maps.append(c);
    }
    root.append(maps);

    const draw = () => {
      const pattern = select.value as Pattern;
      const { visible, probabilities } = attentionMap(pattern);
      drawMatrix(maskCanvas, visible, 'mask (white = attend)', (v) => (v ? [255, 255, 255] : [30, 30, 30]));
      let max = 0;
      for (const p of probabilities) max = Math.max(max, p);
      drawMatrix(mapCanvas, probabilities, 'attention probabilities P (row-normalised)', (v) =>
        heat(Math.sqrt(v / (max || 1))),
      );
    };
    select.addEventListener('change', draw);
    draw();

    const code = document.createElement('pre');
    code.textContent = [
      "import { flashAttention, bigBirdMask } from '@lab/attention';",
      '',
      '// q: [batch, heads, L, headDim]; k, v: [batch, kvHeads, S, headDim]',
      'const mask = bigBirdMask(L, { blockSize: 8, seed: 1 });   // bool [L, L], true = attend',
      'const out = flashAttention(q, k, v, { mask });            // tiles with no visible key are skipped',
      'const causal = flashAttention(q, k, v, { causal: true }); // differentiable: tf.grads works',
    ].join('\n');
    root.append(code);

    const chartTitle = document.createElement('h3');
    chartTitle.textContent =
      'FlashAttention vs the composite, as L grows (causal, 4 heads, D = 32, measured in this browser)';
    root.append(chartTitle);
    const charts = document.createElement('div');
    charts.style.display = 'flex';
    charts.style.gap = '16px';
    charts.style.flexWrap = 'wrap';
    const timeSvg = svgEl('svg', { width: 320, height: 220 });
    const memSvg = svgEl('svg', { width: 320, height: 220 });
    charts.append(timeSvg, memSvg);
    root.append(charts);
    const status = document.createElement('p');
    root.append(status);

    // The chart fills in as a Web Worker measures one length after another (the page stays responsive).
    const lengths = [128, 256, 512, 1024];
    const points: BenchPoint[] = [];
    worker?.terminate();
    worker = new Worker(new URL('../workers/attention-measure.worker.ts', import.meta.url), {
      type: 'module',
    });
    worker.addEventListener('message', (e: MessageEvent<MeasureEvent>) => {
      const ev = e.data;
      if (ev.type === 'measuring') status.textContent = `measuring L = ${ev.L} in a Web Worker …`;
      else if (ev.type === 'error') status.textContent = `measurement failed: ${ev.message}`;
      else {
        points.push(ev.point);
        drawChart(timeSvg, points, 'time', lengths);
        drawChart(memSvg, points, 'memory', lengths);
        if (points.length === lengths.length) {
          const last = ev.point;
          status.textContent = `At L = ${last.L}: flash ${(last.compositeMs / last.flashMs).toFixed(1)}× faster, ${(last.compositeBytes / last.flashBytes).toFixed(1)}× less peak memory.`;
        }
      }
    });
    const request: MeasureRequest = { wasmPaths: absoluteWasmPaths(), lengths };
    worker.postMessage(request);
  },
  unmount() {
    worker?.terminate();
    worker = undefined;
  },
};
