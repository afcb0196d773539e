/**
 * @lab/conv demo: pick dilation rates and see, layer by layer, the 1-D receptive field a stack of dilated
 * convolutions covers and its gridding holes (Wang et al. 2018), the paper's M_i rule beside the exact test,
 * and the effective receptive field of the 2-D stack measured by gradients (Luo et al. 2016).
 */
import {
  dilatedConv2d,
  dilationCoverage,
  effectiveReceptiveField,
  hdcCheck,
  proposeSawtoothRates,
  receptiveFieldPerLayer,
} from '@lab/conv';
import * as tf from '@tensorflow/tfjs-core';
import type { DemoPage } from '../page.js';
import { el, svgEl } from '../ui.js';

const SNIPPET = `import { dilatedConv2d, hdcCheck, receptiveField, proposeSawtoothRates } from '@lab/conv';

hdcCheck([1, 2, 5], 3);   // { ok: true, holes: [], ruleOk: true, size: 17, M: [1, 2, 5] }
hdcCheck([2, 2, 2], 3);   // { ok: false, holes: [1, 3, 5, 7, 9, 11], ruleOk: true, ... }  (the rule misses it)
receptiveField([1, 1, 2, 4, 8, 16, 1].map((dilation) => ({ kernel: 3, dilation })));  // { size: 67, jump: 1 }
proposeSawtoothRates(67, 3).rates;                     // a hole-free sawtooth reaching 67

// trains at any dilation (tfjs's own conv2d gradient rejects dilation > 1)
const [dx, dw] = tf.grads((x, w) => dilatedConv2d(x, w, { dilation: 2, padding: 'same' }).square().sum())([x, w]);`;

const PRESETS: { label: string; rates: number[] }[] = [
  { label: '[1, 2, 5]: hybrid dilated convolution, no holes', rates: [1, 2, 5] },
  { label: '[2, 2, 2]: gridding (passes the M_i rule, holes everywhere)', rates: [2, 2, 2] },
  { label: '[1, 2, 9]: fails the rule, holes', rates: [1, 2, 9] },
  { label: '[3, 3, 3]: gridding (passes the M_i rule)', rates: [3, 3, 3] },
  { label: '[1, 1, 2, 4, 8, 16, 1]: Yu & Koltun context module', rates: [1, 1, 2, 4, 8, 16, 1] },
  { label: '[1, 2, 5, 1, 2, 5]: sawtooth', rates: [1, 2, 5, 1, 2, 5] },
  { label: '[4, 8]: large rates only', rates: [4, 8] },
];

/** Largest receptive field for which the 2-D effective receptive field is computed (stays responsive). */
const MAX_ERF = 161;

function parseRates(text: string): number[] | string {
  const parts = text
    .split(/[\s,;[\]]+/)
    .filter((s) => s.length > 0)
    .map(Number);
  if (parts.length === 0) return 'enter at least one rate';
  if (parts.length > 16) return 'at most 16 layers in the demo';
  if (!parts.every((r) => Number.isInteger(r) && r >= 1 && r <= 64))
    return 'rates must be integers from 1 to 64';
  return parts;
}

/** The layer-by-layer coverage chart: row i shows which offsets the first i layers reach (red = hole). */
function coverageChart(rates: number[], kernel: number): SVGSVGElement {
  const finalSize = 1 + (kernel - 1) * rates.reduce((a, b) => a + b, 0);
  const width = 720;
  const left = 70;
  const top = 30;
  const rowH = 22;
  const plotW = width - left - 20;
  const height = top + rowH * rates.length + 50;
  const cell = plotW / finalSize;
  const root = svgEl('svg', { width, height, viewBox: `0 0 ${width} ${height}`, role: 'img' });
  root.append(
    svgEl(
      'text',
      { x: left, y: 16, 'font-size': 13, 'font-weight': 'bold' },
      'Input offsets read by one output, after each layer',
    ),
  );
  const center = (finalSize - 1) / 2;
  rates.forEach((_, i) => {
    const prefix = rates.slice(0, i + 1);
    const counts = dilationCoverage(prefix, kernel);
    const size = counts.length;
    // centre each prefix's field under the final one (for odd kernels the field is symmetric)
    const offset = Math.round(center - (size - 1) / 2);
    const y = top + i * rowH;
    root.append(
      svgEl(
        'text',
        { x: left - 8, y: y + rowH * 0.65, 'font-size': 11, 'text-anchor': 'end' },
        `layer ${i + 1} (r=${rates[i]})`,
      ),
    );
    const peak = Math.max(...counts);
    for (let p = 0; p < size; p++) {
      const c = counts[p]!;
      const shade = c === 0 ? '#d62728' : `rgba(31, 119, 180, ${0.25 + (0.75 * c) / peak})`;
      root.append(
        svgEl('rect', {
          x: left + (offset + p) * cell,
          y: y + 2,
          width: Math.max(cell - (cell > 4 ? 1 : 0), 0.5),
          height: rowH - 4,
          fill: shade,
        }),
      );
    }
  });
  // x axis: offsets from the centre, in input samples
  const axisY = top + rates.length * rowH + 6;
  root.append(svgEl('line', { x1: left, x2: left + plotW, y1: axisY, y2: axisY, stroke: '#333' }));
  const ticks = 6;
  for (let t = 0; t <= ticks; t++) {
    const p = Math.round((t / ticks) * (finalSize - 1));
    const x = left + (p + 0.5) * cell;
    root.append(svgEl('line', { x1: x, x2: x, y1: axisY, y2: axisY + 4, stroke: '#333' }));
    root.append(
      svgEl(
        'text',
        { x, y: axisY + 16, 'font-size': 10, 'text-anchor': 'middle' },
        String(p - Math.round(center)),
      ),
    );
  }
  root.append(
    svgEl(
      'text',
      { x: left + plotW / 2, y: axisY + 34, 'font-size': 11, 'text-anchor': 'middle' },
      'offset from the output position (input samples); blue = reached (darker = more paths), red = hole',
    ),
  );
  return root;
}

/** Draws a [h, w] map in [0, 1] on a canvas with a square-root colour scale and pixel axes. */
function drawHeatmap(canvas: HTMLCanvasElement, map: number[][], title: string): void {
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  const n = map.length;
  const left = 40;
  const top = 24;
  const side = canvas.width - left - 60;
  const px = side / n;
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.fillStyle = '#000';
  ctx.font = 'bold 13px sans-serif';
  ctx.fillText(title, left, 15);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const v = Math.sqrt(map[i]![j]!);
      ctx.fillStyle =
        v === 0 ? '#fff' : `rgb(${Math.round(255 * (1 - v))}, ${Math.round(255 * (1 - 0.6 * v))}, 255)`;
      ctx.fillRect(left + j * px, top + i * px, Math.ceil(px), Math.ceil(px));
    }
  }
  ctx.strokeStyle = '#333';
  ctx.strokeRect(left, top, side, side);
  ctx.fillStyle = '#000';
  ctx.font = '10px sans-serif';
  const half = Math.floor(n / 2);
  for (const v of [-half, 0, half]) {
    const pos = (v + half + 0.5) * px;
    ctx.fillText(String(v), left + pos - 6, top + side + 12);
    ctx.fillText(String(v), left - 24, top + pos + 3);
  }
  ctx.fillText('x offset (pixels)', left + side / 2 - 35, top + side + 26);
  ctx.save();
  ctx.translate(12, top + side / 2 + 35);
  ctx.rotate(-Math.PI / 2);
  ctx.fillText('y offset (pixels)', 0, 0);
  ctx.restore();
  // colour bar: |∂y/∂x| normalised, square-root scale
  for (let k = 0; k < 100; k++) {
    const v = 1 - k / 99;
    const s = Math.sqrt(v);
    ctx.fillStyle = `rgb(${Math.round(255 * (1 - s))}, ${Math.round(255 * (1 - 0.6 * s))}, 255)`;
    ctx.fillRect(left + side + 15, top + (k / 100) * side, 12, side / 100 + 1);
  }
  ctx.fillStyle = '#000';
  ctx.fillText('1', left + side + 32, top + 8);
  ctx.fillText('0', left + side + 32, top + side);
  ctx.fillText('|∂y/∂x|', left + side + 8, top + side + 12);
}

let disposed = false;

export const page: DemoPage = {
  id: 'conv',
  title: 'Dilated convolution: receptive fields and gridding',
  summary:
    'Pick dilation rates and see the receptive field a stack covers, its gridding holes (exact test vs the HDC rule) and the effective receptive field by gradients.',
  references:
    'Yu & Koltun 2016; Chen et al. 2017 (DeepLab v3); Wang et al. 2018 (HDC); Luo et al. 2016 (ERF); van den Oord et al. 2016',
  async mount(root: HTMLElement): Promise<void> {
    disposed = false;
    root.append(
      el(
        'p',
        {},
        'A dilated convolution with kernel K and rate r reads the input at offsets r·t, t = 0…K − 1. A stack reads Σᵢ rᵢ·tᵢ: its receptive field has size 1 + (K − 1)·Σ rᵢ, but offsets that no choice of taps reaches are holes ("gridding"). Hybrid dilated convolution (Wang et al. 2018) picks rates with M₂ ≤ K, where Mₙ = rₙ and Mᵢ = max(Mᵢ₊₁ − 2rᵢ, Mᵢ₊₁ − 2(Mᵢ₊₁ − rᵢ), rᵢ); the exact test below enumerates every reachable offset and also catches stacks such as [2, 2, 2] that the rule lets through.',
      ),
    );
    const controls = el('div', {
      style: 'display:flex;flex-wrap:wrap;gap:12px;align-items:center;margin:8px 0',
    });
    const select = el('select', { 'data-main-control': '', 'aria-label': 'dilation rates' });
    PRESETS.forEach((p, i) => {
      select.append(el('option', { value: String(i) }, p.label));
    });
    select.append(el('option', { value: 'custom' }, 'custom (type below)'));
    const custom = el('input', { type: 'text', value: '1, 2, 5', size: '22', 'aria-label': 'custom rates' });
    const kernelSelect = el('select', { 'aria-label': 'kernel size' });
    for (const k of [2, 3, 5]) kernelSelect.append(el('option', { value: String(k) }, `kernel ${k}`));
    kernelSelect.value = '3';
    const target = el('input', {
      type: 'number',
      value: '67',
      min: '2',
      max: '400',
      style: 'width:5em',
      'aria-label': 'target receptive field',
    });
    const propose = el('button', { type: 'button' }, 'propose sawtooth rates for target');
    controls.append(el('label', {}, 'rates: '), select, custom, kernelSelect, target, propose);
    root.append(controls);

    const report = el('pre', { style: 'background:#f6f6f6;padding:8px;white-space:pre-wrap' });
    const output = el('div', { 'data-main-output': '' });
    const chartHolder = el('div');
    const canvas = el('canvas', { width: '420', height: '400' });
    const erfNote = el('p', { style: 'font-size:12px;color:#555' });
    output.append(chartHolder, canvas, erfNote);
    root.append(report, output);
    root.append(
      el('h3', {}, 'Code'),
      el('pre', { style: 'background:#f6f6f6;padding:8px;overflow:auto' }, SNIPPET),
    );

    const currentRates = (): number[] | string => {
      if (select.value === 'custom') return parseRates(custom.value);
      return PRESETS[Number(select.value)]!.rates;
    };

    let generation = 0;
    const render = async () => {
      const my = ++generation;
      const kernel = Number(kernelSelect.value);
      const rates = currentRates();
      if (typeof rates === 'string') {
        report.textContent = `Invalid rates: ${rates}`;
        return;
      }
      const check = hdcCheck(rates, kernel);
      const per = receptiveFieldPerLayer(rates.map((dilation) => ({ kernel, dilation })));
      const holes =
        check.holes.length > 24
          ? `${check.holes.slice(0, 24).join(', ')}, … (${check.holes.length} in all)`
          : check.holes.join(', ');
      report.textContent = [
        `rates ${JSON.stringify(rates)}, kernel ${kernel}`,
        `receptive field after each layer: ${per.map((p) => p.size).join(', ')}`,
        `M_i rule (Wang et al. 2018): M = [${check.M.join(', ')}], M_2 ≤ K: ${check.ruleOk ? 'yes' : 'no'}`,
        `exact coverage: ${check.ok ? 'no holes' : `${check.holes.length} holes at offsets (from the left edge) ${holes}`}`,
      ].join('\n');
      chartHolder.replaceChildren(coverageChart(rates, kernel));
      // Effective receptive field of the 2-D stack with all-ones filters, by gradients through dilatedConv2d.
      await new Promise((r) => setTimeout(r, 0));
      if (disposed || my !== generation) return;
      const size = check.size;
      if (size > MAX_ERF) {
        erfNote.textContent = `The 2-D effective receptive field is drawn for fields up to ${MAX_ERF} pixels (this one is ${size}).`;
        canvas.getContext('2d')?.clearRect(0, 0, canvas.width, canvas.height);
        return;
      }
      const side = size + 8 + ((size + 8) % 2 === 0 ? 1 : 0);
      const map = tf.tidy(() => {
        const filters = rates.map(() => tf.ones([kernel, kernel, 1, 1]));
        const erf = effectiveReceptiveField(
          (x) =>
            rates.reduce((h, d, i) => dilatedConv2d(h, filters[i]!, { dilation: d, padding: 'same' }), x),
          [1, side, side, 1],
        );
        return erf.arraySync() as number[][];
      });
      if (disposed || my !== generation) return;
      drawHeatmap(canvas, map, `Effective receptive field of the centre output (${side}×${side} input)`);
      erfNote.textContent =
        'Gradient of the centre output with respect to the input (Luo et al. 2016), through dilatedConv2d with all-ones 2-D filters: white cells are 2-D holes, the grid pattern is gridding.';
    };

    select.addEventListener('change', () => void render());
    custom.addEventListener('change', () => {
      select.value = 'custom';
      void render();
    });
    kernelSelect.addEventListener('change', () => void render());
    propose.addEventListener('click', () => {
      const t = Math.max(2, Math.min(400, Math.round(Number(target.value)) || 67));
      const proposal = proposeSawtoothRates(t, Number(kernelSelect.value), { maxRate: 64 });
      custom.value = proposal.rates.slice(0, 16).join(', ');
      select.value = 'custom';
      void render();
    });
    await render();
  },
  unmount(): void {
    disposed = true;
  },
};
