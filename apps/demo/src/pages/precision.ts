/**
 * @lab/precision demo: a bit-layout explorer for float32, float16, bfloat16 and the two fp8 formats, and the
 * mixed-precision training comparison of Micikevicius et al. 2018 (FP32 vs FP16 vs FP16 + dynamic loss
 * scaling) with loss curves and the loss scale over time.
 */
import {
  analyzeRange,
  bfloat16BitsToFloat32,
  compileKernels,
  f16round,
  FORMATS,
  type FormatName,
  float16BitsToFloat32,
  float32ToBfloat16Bits,
  float32ToFloat16Bits,
  float32ToFp8E4M3Bits,
  float32ToFp8E5M2Bits,
  fp8E4M3BitsToFloat32,
  fp8E5M2BitsToFloat32,
  MixedPrecisionOptimizer,
  type MixedPrecisionOptions,
} from '@lab/precision';
import { createRng } from '@lab/tensor';
import * as tf from '@tensorflow/tfjs-core';
import type { DemoPage } from '../page.js';
import { el } from '../ui.js';

const SNIPPET = `import { MixedPrecisionOptimizer, float32ToFloat16Bits, toFloat16 } from '@lab/precision';

float32ToFloat16Bits(0.1);              // 0x2e66 (round to nearest even)
const half = toFloat16(weights);        // Float32Array -> Uint16Array, SIMD, > 1 G values/s

const mp = new MixedPrecisionOptimizer(tf.train.adam(0.02), { format: 'float16' }); // dynamic loss scaling
const { loss, skipped, scale } = mp.minimize((w, cast) => {
  const h = cast(tf.relu(tf.add(tf.matMul(cast(x), w.w1), w.b1)));   // activations rounded to FP16
  return mse(cast(tf.add(tf.matMul(h, w.w2), w.b2)), y);
}, { w1, b1, w2, b2 });                 // FP32 master weights (tf.Variable)`;

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

interface Encoding {
  format: FormatName;
  bits: number;
  value: number;
}

function encode(x: number, format: FormatName, saturate: boolean): Encoding {
  switch (format) {
    case 'float32':
      f32[0] = x;
      return { format, bits: u32[0]!, value: f32[0]! };
    case 'float16': {
      const bits = float32ToFloat16Bits(x);
      return { format, bits, value: float16BitsToFloat32(bits) };
    }
    case 'bfloat16': {
      const bits = float32ToBfloat16Bits(x);
      return { format, bits, value: bfloat16BitsToFloat32(bits) };
    }
    case 'fp8e4m3': {
      const bits = float32ToFp8E4M3Bits(x, { saturate });
      return { format, bits, value: fp8E4M3BitsToFloat32(bits) };
    }
    default: {
      const bits = float32ToFp8E5M2Bits(x, { saturate });
      return { format, bits, value: fp8E5M2BitsToFloat32(bits) };
    }
  }
}

function formatNumber(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (!Number.isFinite(v)) return v > 0 ? '+inf' : '-inf';
  if (v === 0) return Object.is(v, -0) ? '-0' : '0';
  return Math.abs(v) >= 1e-4 && Math.abs(v) < 1e6 ? String(Number(v.toPrecision(9))) : v.toExponential(6);
}

/** Renders one format's bit pattern as coloured sign / exponent / mantissa cells. */
function bitRow(enc: Encoding, x: number): HTMLTableRowElement {
  const info = FORMATS[enc.format];
  const row = el('tr');
  row.append(el('td', {}, enc.format));
  const cell = el('td', { style: 'font-family: monospace; white-space: nowrap' });
  const text = enc.bits.toString(2).padStart(info.bits, '0');
  for (let i = 0; i < text.length; i++) {
    const color = i === 0 ? '#e57373' : i <= info.exponentBits ? '#64b5f6' : '#81c784';
    const bit = el(
      'span',
      {
        style: `background:${color};padding:1px 2px;margin-right:${i === 0 || i === info.exponentBits ? 4 : 1}px`,
      },
      text[i]!,
    );
    cell.append(bit);
  }
  row.append(cell);
  row.append(
    el('td', { style: 'font-family: monospace' }, `0x${enc.bits.toString(16).padStart(info.bits / 4, '0')}`),
  );
  row.append(el('td', { style: 'font-family: monospace' }, formatNumber(enc.value)));
  const abs = enc.value - x;
  const rel = x === 0 ? abs : abs / Math.abs(x);
  row.append(
    el(
      'td',
      { style: 'font-family: monospace' },
      Number.isFinite(abs) ? abs.toExponential(3) : formatNumber(abs),
    ),
  );
  row.append(
    el('td', { style: 'font-family: monospace' }, Number.isFinite(rel) ? rel.toExponential(3) : '—'),
  );
  return row;
}

// ---------------------------------------------------------------------------------------------------------
// Training comparison.

type Run = { label: string; color: string; losses: number[]; scales: number[]; skipped: number };

async function trainRuns(
  lossWeight: number,
  steps: number,
  isCancelled: () => boolean,
  onProgress: (runs: Run[]) => void,
): Promise<Run[]> {
  const rng = createRng(3);
  const x = rng.normal([256, 8]);
  const teacher = rng.normal([8, 1]);
  const y = tf.tidy(() => tf.tanh(tf.matMul(x, teacher)));
  const init = {
    w1: tf.mul(rng.normal([8, 32]), 0.3),
    b1: tf.zeros([32]),
    w2: tf.mul(rng.normal([32, 1]), 0.3),
    b2: tf.zeros([1]),
  };
  const configs: { label: string; color: string; options: MixedPrecisionOptions }[] = [
    { label: 'FP32', color: '#1565c0', options: { format: 'float32', lossScaler: null } },
    { label: 'FP16, no loss scaling', color: '#c62828', options: { format: 'float16', lossScaler: null } },
    {
      label: 'FP16 + dynamic loss scaling',
      color: '#2e7d32',
      options: { format: 'float16', lossScaler: 'dynamic' },
    },
  ];
  const runs: Run[] = configs.map((c) => ({
    label: c.label,
    color: c.color,
    losses: [],
    scales: [],
    skipped: 0,
  }));
  try {
    for (let r = 0; r < configs.length; r++) {
      const vars = Object.fromEntries(Object.entries(init).map(([k, v]) => [k, tf.variable(v)])) as Record<
        string,
        tf.Variable
      >;
      const optimizer = tf.train.adam(0.02);
      const mp = new MixedPrecisionOptimizer(optimizer, configs[r]!.options);
      for (let step = 0; step < steps && !isCancelled(); step++) {
        const result = mp.minimize((w, cast) => {
          const h = cast(tf.relu(tf.add(tf.matMul(cast(x), w.w1!), w.b1!)));
          const pred = cast(tf.add(tf.matMul(h, w.w2!), w.b2!));
          return tf.mul(tf.mean(tf.square(tf.sub(pred, y))), lossWeight);
        }, vars);
        runs[r]!.losses.push(result.loss / lossWeight);
        runs[r]!.scales.push(result.scaleUsed);
        if (result.skipped) runs[r]!.skipped++;
        if (step % 10 === 9) {
          onProgress(runs);
          await new Promise((resolve) => setTimeout(resolve, 0));
        }
      }
      optimizer.dispose();
      for (const v of Object.values(vars)) v.dispose();
    }
  } finally {
    tf.dispose([x, teacher, y, ...Object.values(init)]);
  }
  return runs;
}

/** Gradient magnitudes of the initial network against the float16 range (the paper's Figure 3 view). */
function gradientRange(lossWeight: number): string {
  const rng = createRng(3);
  return tf.tidy(() => {
    const x = rng.normal([256, 8]);
    const y = tf.tanh(tf.matMul(x, rng.normal([8, 1])));
    const w1 = tf.mul(rng.normal([8, 32]), 0.3);
    const w2 = tf.mul(rng.normal([32, 1]), 0.3);
    const grads = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
      tf.mul(tf.mean(tf.square(tf.sub(tf.matMul(tf.relu(tf.matMul(x, a)), b), y))), lossWeight),
    )([w1, w2]);
    const r = analyzeRange(grads, 'float16');
    const pct = (v: number) => `${(100 * v).toFixed(1)}%`;
    return `Weight gradients at step 0 in float16: ${pct(r.fractions.underflow)} underflow to zero, ${pct(r.fractions.subnormal)} subnormal, ${pct(r.fractions.overflow)} overflow.`;
  });
}

function drawChart(
  canvas: HTMLCanvasElement,
  series: { color: string; label: string; values: number[]; dashed?: boolean }[],
  options: { title: string; yLabel: string; logY: boolean; steps: number },
): void {
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  const { width, height } = canvas;
  const pad = { left: 64, right: 12, top: 24, bottom: 36 };
  ctx.clearRect(0, 0, width, height);
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, width, height);
  const all = series.flatMap((s) => s.values).filter((v) => Number.isFinite(v) && (!options.logY || v > 0));
  if (all.length === 0) return;
  const t = (v: number) => (options.logY ? Math.log10(v) : v);
  let lo = Math.min(...all.map(t));
  let hi = Math.max(...all.map(t));
  if (options.logY) {
    lo = Math.floor(lo);
    hi = Math.ceil(hi);
  }
  if (hi === lo) hi = lo + 1;
  const px = (i: number) => pad.left + (i / Math.max(1, options.steps - 1)) * (width - pad.left - pad.right);
  const py = (v: number) => height - pad.bottom - ((t(v) - lo) / (hi - lo)) * (height - pad.top - pad.bottom);
  ctx.strokeStyle = '#999';
  ctx.fillStyle = '#333';
  ctx.font = '11px sans-serif';
  ctx.beginPath();
  ctx.moveTo(pad.left, pad.top);
  ctx.lineTo(pad.left, height - pad.bottom);
  ctx.lineTo(width - pad.right, height - pad.bottom);
  ctx.stroke();
  const ticks = options.logY ? hi - lo : 4;
  for (let k = 0; k <= ticks; k++) {
    const tv = lo + ((hi - lo) * k) / ticks;
    const value = options.logY ? 10 ** tv : tv;
    const y = py(value);
    ctx.fillText(options.logY ? `1e${tv.toFixed(0)}` : value.toPrecision(3), 4, y + 4);
    ctx.strokeStyle = '#eee';
    ctx.beginPath();
    ctx.moveTo(pad.left, y);
    ctx.lineTo(width - pad.right, y);
    ctx.stroke();
  }
  for (let k = 0; k <= 4; k++) {
    const step = Math.max(1, Math.round((options.steps * k) / 4)); // steps are numbered from 1
    ctx.fillText(String(step), px(step - 1) - 8, height - pad.bottom + 14);
  }
  ctx.fillText('training step', width / 2 - 30, height - 6);
  ctx.fillText(options.title, pad.left, 14);
  ctx.fillText(options.yLabel, pad.left + 6, pad.top + 12);
  series.forEach((s, index) => {
    ctx.strokeStyle = s.color;
    ctx.lineWidth = 2;
    ctx.setLineDash(s.dashed ? [6, 4] : []);
    ctx.beginPath();
    s.values.forEach((v, i) => {
      if (!Number.isFinite(v) || (options.logY && v <= 0)) return;
      if (i === 0) ctx.moveTo(px(i), py(v));
      else ctx.lineTo(px(i), py(v));
    });
    ctx.stroke();
    ctx.setLineDash([]);
    ctx.fillStyle = s.color;
    ctx.fillText(s.label, width - pad.right - 200, pad.top + 14 + 14 * index);
  });
  ctx.lineWidth = 1;
}

/** Incremented on every mount and unmount: work started under another value stops. */
let mountId = 0;

export const page: DemoPage = {
  id: 'precision',
  title: 'Mixed precision: float formats and loss scaling',
  summary: 'Exact float16 / bfloat16 / fp8 bit layouts, and why FP16 training needs loss scaling.',
  references:
    'Micikevicius et al. 2018 (Mixed Precision Training); Micikevicius et al. 2022 (FP8 Formats for Deep Learning)',
  async mount(root: HTMLElement): Promise<void> {
    const mine = ++mountId;
    const cancelled = () => mine !== mountId;
    root.replaceChildren();
    await compileKernels(); // async compile of the SIMD kernels (no synchronous compile on the main thread)

    // Bit-layout explorer.
    root.append(el('h3', {}, 'Bit layout explorer'));
    root.append(
      el(
        'p',
        {},
        'A value is stored as sign (red), exponent (blue) and mantissa (green): value = (−1)^s · (1 + m/2^M) · 2^(e − bias), or (m/2^M) · 2^(1 − bias) for subnormals. Conversions round to nearest even, as numpy and ml_dtypes; the error columns show what is lost.',
      ),
    );
    const controls = el('div');
    const input = el('input', { type: 'text', value: '0.1', size: '24', 'aria-label': 'number to encode' });
    const saturate = el('input', { type: 'checkbox', id: 'precision-saturate' });
    controls.append(
      'x = ',
      input,
      ' ',
      saturate,
      el('label', { for: 'precision-saturate' }, ' fp8 saturate (clamp to ±max)'),
    );
    root.append(controls);
    const table = el('table', { style: 'border-collapse: collapse; margin: 8px 0' });
    const note = el('p', { style: 'font-size: 90%' });
    root.append(table, note);
    const renderExplorer = () => {
      const x = Number(input.value.trim());
      table.replaceChildren();
      const head = el('tr');
      for (const h of [
        'format',
        'bits (sign | exponent | mantissa)',
        'hex',
        'stored value',
        'abs. error',
        'rel. error',
      ]) {
        head.append(el('th', { style: 'text-align:left;padding-right:12px' }, h));
      }
      table.append(head);
      if (Number.isNaN(x) && input.value.trim().toLowerCase() !== 'nan') {
        note.textContent = 'Type a number (e.g. 0.1, 65520, 1e-8, 448, -inf).';
        return;
      }
      for (const format of ['float32', 'float16', 'bfloat16', 'fp8e4m3', 'fp8e5m2'] as const) {
        table.append(bitRow(encode(x, format, saturate.checked), x));
      }
      const single = f16round(x);
      const viaF32 = float16BitsToFloat32(float32ToFloat16Bits(x));
      note.textContent =
        single === viaF32 || (Number.isNaN(single) && Number.isNaN(viaF32))
          ? `f16round(x) (one rounding from float64, as Math.f16round) = ${formatNumber(single)}.`
          : `f16round(x) = ${formatNumber(single)} differs from rounding through float32 first (${formatNumber(viaF32)}): double rounding.`;
    };
    input.addEventListener('input', renderExplorer);
    saturate.addEventListener('change', renderExplorer);
    renderExplorer();

    // Training comparison.
    root.append(el('h3', {}, 'FP32 vs FP16 vs FP16 + loss scaling'));
    root.append(
      el(
        'p',
        {},
        'A small MLP (8 → 32 → 1) regresses a teacher; its loss is multiplied by a weight, as an auxiliary loss term would be. With small weights the gradients fall below the smallest float16 subnormal (2^−24 ≈ 6e−8) and round to zero: FP16 training stalls. Dynamic loss scaling (torch.amp.GradScaler rule: ×2^16 to start, halve and skip on overflow, double after 2000 good steps) multiplies the loss by S before backpropagation and divides the FP32 gradients by S, and matches FP32.',
      ),
    );
    const select = el('select', { 'data-main-control': '', 'aria-label': 'loss weight' });
    for (const [value, label] of [
      ['1e-6', 'loss weight 1e-6 (gradients ≈ 1e-9)'],
      ['1e-4', 'loss weight 1e-4'],
      ['1', 'loss weight 1 (gradients fit in FP16)'],
    ] as const) {
      select.append(el('option', { value }, label));
    }
    const status = el('p', { style: 'font-size: 90%' });
    const output = el('div', { 'data-main-output': '' });
    const lossCanvas = el('canvas', { width: '640', height: '260' });
    const scaleCanvas = el('canvas', { width: '640', height: '180' });
    output.append(lossCanvas, el('br'), scaleCanvas);
    root.append(select, status, output);
    const code = el('pre', { style: 'background:#f5f5f5;padding:8px;overflow:auto;font-size:12px' }, SNIPPET);
    root.append(el('h3', {}, 'Code'), code);

    const steps = 100;
    let generation = 0;
    const draw = (runs: Run[]) => {
      drawChart(
        lossCanvas,
        // FP32 last and dashed: where FP16 + loss scaling matches it, both lines stay visible.
        [runs[1]!, runs[2]!, runs[0]!].map((r) => ({
          color: r.color,
          label: r.label,
          values: r.losses,
          dashed: r.label === 'FP32',
        })),
        { title: 'Training loss (MSE, unweighted)', yLabel: 'loss (log scale)', logY: true, steps },
      );
      drawChart(
        scaleCanvas,
        runs
          .filter((r) => r.label.includes('dynamic'))
          .map((r) => ({ color: r.color, label: 'loss scale S', values: r.scales })),
        { title: 'Loss scale over time (dynamic scaler)', yLabel: 'S (log scale)', logY: true, steps },
      );
    };
    const train = async () => {
      const run = ++generation;
      const weight = Number(select.value);
      status.textContent = `${gradientRange(weight)} Training…`;
      const runs = await trainRuns(
        weight,
        steps,
        () => cancelled() || run !== generation,
        (r) => {
          if (run === generation && !cancelled()) draw(r);
        },
      );
      if (run !== generation || cancelled()) return;
      draw(runs);
      const last = runs.map(
        (r) =>
          `${r.label}: ${formatNumber(Number(r.losses.at(-1)!.toPrecision(3)))}${r.skipped ? ` (${r.skipped} skipped)` : ''}`,
      );
      status.textContent = `${gradientRange(weight)} Final loss after ${steps} steps: ${last.join('; ')}.`;
    };
    select.addEventListener('change', () => {
      void train();
    });
    await train();
  },
  unmount(): void {
    mountId++;
  },
};
