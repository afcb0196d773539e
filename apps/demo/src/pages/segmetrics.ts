/**
 * @lab/segmetrics demo: a synthetic street scene and a prediction that a slider degrades; the confusion matrix
 * as a heatmap, the per-class table, the boundary band of Boundary IoU, and how each convention (FCN / mmseg
 * NaN-and-skip, torchmetrics, zero / one) and per-image aggregation change the means.
 */
import {
  boundaryBand,
  boundaryWidth,
  type Convention,
  compileKernels,
  confusionMatrix,
  SegmentationMetric,
  type SegmentationReport,
  syntheticScene,
} from '@lab/segmetrics';
import type { DemoPage } from '../page.js';
import { el } from '../ui.js';

const HEIGHT = 160;
const WIDTH = 320;
const IGNORE = 255;
const CLASS_NAMES = ['sky', 'building', 'road', 'car', 'person', 'pole', 'tree', 'sign', 'rider', 'train'];
const C = CLASS_NAMES.length;
/** Class 9 ('train') never appears in the ground truth: it shows how the conventions treat absent classes. */
const ABSENT = 9;
const PALETTE: [number, number, number][] = [
  [70, 130, 180],
  [70, 70, 70],
  [128, 64, 128],
  [0, 0, 142],
  [220, 20, 60],
  [153, 153, 153],
  [107, 142, 35],
  [220, 220, 0],
  [255, 0, 0],
  [0, 80, 100],
];

const SNIPPET = `import { SegmentationMetric, confusionMatrix, formatTable } from '@lab/segmetrics';

// One pass, WebAssembly SIMD; rows = target, columns = prediction; Float64Array [C * C].
const cm = confusionMatrix(pred, target, { numClasses: 19, ignoreIndex: 255 });

const metric = new SegmentationMetric({ numClasses: 19, ignoreIndex: 255, classNames, boundary: true });
for (const { pred, target } of batches) metric.update(pred, target);   // tensors [N, H, W] or typed arrays
const report = metric.compute();                     // FCN / mmseg: NaN for empty classes, skipped in means
metric.compute({ convention: 'torchmetrics' });      // torchmetrics' macro means, exactly
console.log(formatTable(report, { columns: ['IoU', 'Acc', 'Dice', 'BIoU'] }));`;

function pct(v: number | undefined): string {
  return v === undefined || Number.isNaN(v) ? 'NaN' : (100 * v).toFixed(1);
}

interface Scene {
  target: Uint8Array;
  pred: Uint8Array;
}

function makeScene(noise: number): Scene {
  const { target, pred } = syntheticScene({ height: HEIGHT, width: WIDTH, numClasses: C, noise, seed: 7 });
  for (let i = 0; i < target.length; i++) if (target[i] === ABSENT) target[i] = 2;
  return { target, pred };
}

/** Draws a label map, with an optional band overlay (1 = target band, tinted white; 2 = predicted band, magenta). */
function drawLabels(canvas: HTMLCanvasElement, labels: Uint8Array, overlay?: Uint8Array): void {
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  const image = ctx.createImageData(WIDTH, HEIGHT);
  for (let i = 0; i < labels.length; i++) {
    const v = labels[i]!;
    let [r, g, b] = v === IGNORE ? [0, 0, 0] : (PALETTE[v] ?? [255, 255, 255]);
    // Band pixels are tinted (half the label colour, half the band colour), so the labels stay visible.
    const o = overlay?.[i] ?? 0;
    const tint = o === 1 ? [255, 255, 255] : o === 2 ? [255, 0, 255] : undefined;
    if (tint) [r, g, b] = [(r + tint[0]!) >> 1, (g + tint[1]!) >> 1, (b + tint[2]!) >> 1];
    image.data[4 * i] = r;
    image.data[4 * i + 1] = g;
    image.data[4 * i + 2] = b;
    image.data[4 * i + 3] = 255;
  }
  ctx.putImageData(image, 0, 0);
}

/** The confusion matrix as a heatmap of row shares (each target class's pixels split by predicted class). */
function drawConfusion(canvas: HTMLCanvasElement, cm: Float64Array): void {
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  const left = 78;
  const top = 28;
  const cell = 26;
  const size = C * cell;
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.font = '11px sans-serif';
  for (let i = 0; i < C; i++) {
    let row = 0;
    for (let j = 0; j < C; j++) row += cm[i * C + j]!;
    for (let j = 0; j < C; j++) {
      const share = row > 0 ? cm[i * C + j]! / row : 0;
      const shade = Math.round(255 * (1 - Math.sqrt(share)));
      ctx.fillStyle = row > 0 ? `rgb(${shade},${shade},255)` : '#eee';
      ctx.fillRect(left + j * cell, top + i * cell, cell - 1, cell - 1);
      if (share >= 0.005) {
        ctx.fillStyle = share > 0.4 ? '#fff' : '#000';
        ctx.textAlign = 'center';
        ctx.fillText(
          String(Math.round(100 * share)),
          left + j * cell + cell / 2,
          top + i * cell + cell / 2 + 4,
        );
      }
    }
    ctx.fillStyle = '#000';
    ctx.textAlign = 'right';
    ctx.fillText(CLASS_NAMES[i]!, left - 4, top + i * cell + cell / 2 + 4);
  }
  for (let j = 0; j < C; j++) {
    ctx.save();
    ctx.translate(left + j * cell + cell / 2 + 4, top + size + 6);
    ctx.rotate(Math.PI / 3);
    ctx.textAlign = 'left';
    ctx.fillText(CLASS_NAMES[j]!, 0, 0);
    ctx.restore();
  }
  ctx.textAlign = 'center';
  ctx.font = '12px sans-serif';
  ctx.fillText('predicted class →', left + size / 2, top - 10);
  ctx.save();
  ctx.translate(12, top + size / 2);
  ctx.rotate(-Math.PI / 2);
  ctx.fillText('target class →', 0, 0);
  ctx.restore();
  ctx.textAlign = 'left';
  ctx.font = '11px sans-serif';
  ctx.fillText('cell: % of the target class’s pixels predicted as that class', 4, top + size + 66);
  ctx.fillText('(row shares; a grey row: class absent from the target)', 4, top + size + 80);
}

function classTable(report: SegmentationReport): HTMLTableElement {
  const table = el('table', { style: 'border-collapse:collapse;font:12px monospace' });
  const head = el('tr');
  for (const h of ['class', 'IoU %', 'Acc %', 'Dice %', 'Prec %', 'BIoU %', 'pixels']) {
    head.append(el('th', { style: 'padding:2px 8px;border-bottom:1px solid #888' }, h));
  }
  table.append(head);
  report.classNames.forEach((name, c) => {
    const tr = el('tr');
    const cells = [
      name,
      pct(report.iou[c]),
      pct(report.accuracy[c]),
      pct(report.dice[c]),
      pct(report.precision[c]),
      pct(report.boundaryIoU?.[c]),
      String(report.support[c]),
    ];
    for (const v of cells) tr.append(el('td', { style: 'padding:1px 8px;text-align:right' }, v));
    table.append(tr);
  });
  return table;
}

function conventionTable(
  metric: SegmentationMetric,
  imageMetric: SegmentationMetric,
  selected: Convention,
): HTMLTableElement {
  const table = el('table', { style: 'border-collapse:collapse;font:12px monospace' });
  const head = el('tr');
  for (const h of [
    'convention',
    'aggregation',
    'mIoU %',
    'mAcc %',
    'mDice %',
    `IoU(${CLASS_NAMES[ABSENT]}) %`,
  ]) {
    head.append(el('th', { style: 'padding:2px 8px;border-bottom:1px solid #888' }, h));
  }
  table.append(head);
  const rows: [Convention, string, SegmentationReport][] = [];
  for (const convention of ['nan', 'torchmetrics', 'zero', 'one'] as Convention[]) {
    rows.push([convention, 'dataset', metric.compute({ convention })]);
  }
  rows.push(['nan', 'image', imageMetric.compute()]);
  for (const [convention, aggregation, r] of rows) {
    const tr = el(
      'tr',
      convention === selected && aggregation === 'dataset' ? { style: 'background:#ffd' } : {},
    );
    for (const v of [
      convention,
      aggregation,
      pct(r.meanIoU),
      pct(r.meanPixelAccuracy),
      pct(r.meanDice),
      pct(r.iou[ABSENT]),
    ]) {
      tr.append(el('td', { style: 'padding:1px 8px;text-align:right' }, v));
    }
    table.append(tr);
  }
  return table;
}

let disposed = false;

export const page: DemoPage = {
  id: 'segmetrics',
  title: 'Segmentation metrics: confusion matrix, mIoU, Dice and Boundary IoU under explicit conventions',
  summary:
    'Pixel accuracy, mean accuracy, mIoU, FWIoU, Dice and Boundary IoU of a synthetic street scene whose prediction you degrade, with the conventions of mmseg, torchmetrics and smp side by side.',
  references: 'Long et al. 2015 (FCN); Cheng et al. 2021 (Boundary IoU)',
  async mount(root: HTMLElement): Promise<void> {
    disposed = false;
    await compileKernels();
    root.replaceChildren();
    const intro = el('p');
    intro.textContent =
      'Per class c, with the confusion matrix n (rows = target, columns = prediction): IoU = n_cc / (Σ_j n_cj + Σ_i n_ic − n_cc), ' +
      'accuracy = n_cc / Σ_j n_cj, Dice = 2 n_cc / (Σ_j n_cj + Σ_i n_ic); pixel accuracy = Σ_c n_cc / Σ n. Boundary IoU computes IoU only on the ' +
      'band of width d = max(1, round(0.02 · diagonal)) inside each mask’s contour. Black pixels (the ego vehicle) are ignoreIndex 255. ' +
      `The class “${CLASS_NAMES[ABSENT]}” never occurs in the ground truth: a noisy prediction invents it, and each convention scores that differently.`;
    const controls = el('div', {
      style: 'display:flex;gap:16px;align-items:center;flex-wrap:wrap;margin:8px 0',
    });
    const sliderLabel = el('label', {}, 'prediction noise ');
    const slider = el('input', {
      type: 'range',
      min: '0',
      max: '1',
      step: '0.05',
      value: '0.2',
      'data-main-control': '',
    });
    const noiseValue = el('span', {}, '0.10');
    sliderLabel.append(slider, noiseValue);
    const conventionLabel = el('label', {}, 'convention of the report ');
    const select = el('select');
    for (const c of ['nan', 'torchmetrics', 'zero', 'one']) select.append(el('option', { value: c }, c));
    conventionLabel.append(select);
    const bandLabel = el('label', {}, ' show boundary bands ');
    const bandBox = el('input', { type: 'checkbox' });
    bandBox.checked = true;
    bandLabel.append(bandBox);
    const timeButton = el('button', {}, 'time confusionMatrix on a 1024 × 2048 frame');
    const timeOut = el('span');
    controls.append(sliderLabel, conventionLabel, bandLabel, timeButton, timeOut);

    const output = el('div', { 'data-main-output': '', style: 'display:flex;gap:16px;flex-wrap:wrap' });
    const mapBox = el('div');
    const targetCanvas = el('canvas', {
      width: String(WIDTH),
      height: String(HEIGHT),
      style: 'display:block',
    });
    const predCanvas = el('canvas', { width: String(WIDTH), height: String(HEIGHT), style: 'display:block' });
    const targetCaption = el('div', { style: 'font:12px sans-serif' });
    const predCaption = el('div', { style: 'font:12px sans-serif' });
    mapBox.append(targetCanvas, targetCaption, predCanvas, predCaption);
    const cmCanvas = el('canvas', { width: '380', height: '410' });
    output.append(mapBox, cmCanvas);

    const tables = el('div', { style: 'display:flex;gap:24px;flex-wrap:wrap;margin-top:8px' });
    const summary = el('pre', { style: 'font:12px monospace;margin:8px 0' });
    const code = el(
      'pre',
      { style: 'background:#f4f4f4;padding:8px;font:12px monospace;overflow:auto' },
      SNIPPET,
    );
    root.append(intro, controls, output, summary, tables, code);

    const render = () => {
      if (disposed) return;
      const noise = Number(slider.value);
      noiseValue.textContent = noise.toFixed(2);
      const { target, pred } = makeScene(noise);
      const shape = [1, HEIGHT, WIDTH];
      const convention = select.value as Convention;
      const metric = new SegmentationMetric({
        numClasses: C,
        ignoreIndex: IGNORE,
        classNames: CLASS_NAMES,
        boundary: true,
        convention,
      });
      metric.update(pred, target, { shape });
      const imageMetric = new SegmentationMetric({
        numClasses: C,
        ignoreIndex: IGNORE,
        aggregation: 'image',
      });
      imageMetric.update(pred, target, { shape });
      const report = metric.compute();
      const d = boundaryWidth(HEIGHT, WIDTH);
      let overlayT: Uint8Array | undefined;
      let overlayP: Uint8Array | undefined;
      if (bandBox.checked) {
        const bt = boundaryBand(target, 0, HEIGHT, WIDTH, d);
        const bp = boundaryBand(pred, 0, HEIGHT, WIDTH, d);
        overlayT = Uint8Array.from(bt, (b, i) => (target[i] === IGNORE ? 0 : b));
        overlayP = Uint8Array.from(bp, (b, i) => (target[i] === IGNORE ? 0 : 2 * b));
      }
      drawLabels(targetCanvas, target, overlayT);
      drawLabels(predCanvas, pred, overlayP);
      targetCaption.textContent = `target, ${WIDTH} × ${HEIGHT} px${bandBox.checked ? ` (white: boundary band, d = ${d} px)` : ''}`;
      predCaption.textContent = `prediction${bandBox.checked ? ' (magenta: its boundary band)' : ''}`;
      drawConfusion(cmCanvas, report.confusionMatrix);
      summary.textContent =
        `pixel accuracy ${pct(report.pixelAccuracy)} %   mean accuracy ${pct(report.meanPixelAccuracy)} %   mIoU ${pct(report.meanIoU)} %   ` +
        `FWIoU ${pct(report.fwIoU)} %   mean Dice ${pct(report.meanDice)} %   mean Boundary IoU ${pct(report.meanBoundaryIoU)} %   ` +
        `(${report.pixels} labelled pixels, ${report.ignoredPixels} ignored; convention '${convention}')`;
      const perClass = el('div');
      perClass.append(el('h4', {}, 'Per class (dataset level)'), classTable(report));
      const conventions = el('div');
      conventions.append(
        el('h4', {}, 'Means under each convention'),
        conventionTable(metric, imageMetric, convention),
      );
      tables.replaceChildren(perClass, conventions);
    };

    slider.addEventListener('input', render);
    select.addEventListener('change', render);
    bandBox.addEventListener('change', render);
    timeButton.addEventListener('click', async () => {
      timeOut.textContent = 'generating a 1024 × 2048 scene…';
      await new Promise((r) => setTimeout(r, 0));
      if (disposed) return;
      const big = syntheticScene({ height: 1024, width: 2048, numClasses: 19, seed: 3 });
      confusionMatrix(big.pred, big.target, { numClasses: 19, ignoreIndex: IGNORE });
      const t0 = performance.now();
      const runs = 5;
      for (let r = 0; r < runs; r++)
        confusionMatrix(big.pred, big.target, { numClasses: 19, ignoreIndex: IGNORE });
      const ms = (performance.now() - t0) / runs;
      timeOut.textContent = `${ms.toFixed(2)} ms per frame = ${((1024 * 2048) / ms / 1e3).toFixed(0)} M pixels/s (one thread)`;
    });
    render();
    await new Promise((r) => setTimeout(r, 0));
  },
  unmount(): void {
    disposed = true;
  },
};
