/**
 * Boundary IoU (Cheng et al. 2021, "Boundary IoU: Improving Object-Centric Image Segmentation Evaluation"):
 * IoU restricted to the band of width d inside each mask's contour, d = max(1, round(dilationRatio · image
 * diagonal)), dilationRatio = 0.02 by default.
 *
 * As the reference `mask_to_boundary` (a 1-pixel zero border, then d erosions with a 3 × 3 kernel), a pixel
 * of class c is in c's band when a pixel of another label, or the outside of the image, lies within chessboard
 * distance d. For every image this is computed for all classes at once from run lengths of equal labels
 * (O(1) per pixel, independent of d). Per class: |G_d ∩ P_d| / |G_d ∪ P_d|, summed over images.
 */
import {
  assertKnownOptions,
  assertNumber,
  assertPositiveInteger,
  formatShape,
  ShapeError,
  useWasmKernels,
} from '@lab/tensor';
import { checkClassOptions, countLabels } from './confusion.js';
import type { LabelInput } from './inputs.js';
import { readLabels } from './inputs.js';
import { elementKind } from './kernels/histogram.js';
import { segmetricsKernels } from './kernels/module.js';

export interface BoundaryOptions {
  /** Band width as a fraction of the image diagonal (default 0.02, as the paper). */
  dilationRatio?: number;
  /** Band width in pixels (overrides dilationRatio). */
  dilation?: number;
}

/** The band width d of the paper for an image of height × width. */
export function boundaryWidth(height: number, width: number, options: BoundaryOptions = {}): number {
  if (options.dilation !== undefined) return options.dilation;
  const ratio = options.dilationRatio ?? 0.02;
  return Math.max(1, Math.round(ratio * Math.sqrt(height * height + width * width)));
}

/**
 * The boundary band of a label map image [height, width] at `offset` in `labels`: band[i] = 1 when pixel i is
 * within chessboard distance d of a different label or of the image's outside (the pixels that d erosions of
 * its own class mask remove). WebAssembly kernel for Uint8/Uint16/Int32/Float32 arrays, else TypeScript.
 */
export function boundaryBand(
  labels: ArrayLike<number>,
  offset: number,
  height: number,
  width: number,
  d: number,
): Uint8Array {
  const kind = elementKind(labels);
  if (!useWasmKernels() || !kind || height * width === 0)
    return boundaryBandFallback(labels, offset, height, width, d);
  const n = height * width;
  const bytes = kind === 'u8' ? 1 : kind === 'u16' ? 2 : 4;
  const typed = labels as Uint8Array | Uint16Array | Int32Array | Float32Array;
  return segmetricsKernels.withArena((arena) => {
    const pl = arena.alloc(n * bytes + 16);
    const pb = arena.alloc(n + 16);
    const pru = arena.alloc(n + 16);
    const plf = arena.alloc(4 * n);
    const pur = arena.alloc(4 * n);
    const pdn = arena.alloc(4 * width);
    const pdr = arena.alloc(4 * width);
    const buffer = segmetricsKernels.memory.buffer;
    new Uint8Array(buffer, pl, n * bytes).set(
      new Uint8Array(typed.buffer, typed.byteOffset + offset * bytes, n * bytes),
    );
    segmetricsKernels.exports[`band_${kind}`](pl, height, width, d, pb, pru, plf, pur, pdn, pdr);
    return new Uint8Array(segmetricsKernels.memory.buffer, pb, n).slice();
  });
}

/** {@link boundaryBand} in plain TypeScript (the kernels' fallback, and the path of other arrays). */
export function boundaryBandFallback(
  labels: ArrayLike<number>,
  offset: number,
  height: number,
  width: number,
  d: number,
): Uint8Array {
  const n = height * width;
  const need = d + 1;
  // rowUniform: the horizontal window [x − d, x + d] lies inside the row and holds one label.
  const left = new Int32Array(n);
  const rowUniform = new Uint8Array(n);
  for (let y = 0; y < height; y++) {
    const r = y * width;
    left[r] = 1;
    for (let x = 1; x < width; x++) {
      left[r + x] = labels[offset + r + x] === labels[offset + r + x - 1] ? left[r + x - 1]! + 1 : 1;
    }
    let right = 0;
    for (let x = width - 1; x >= 0; x--) {
      right = x < width - 1 && labels[offset + r + x] === labels[offset + r + x + 1] ? right + 1 : 1;
      rowUniform[r + x] = left[r + x]! >= need && right >= need ? 1 : 0;
    }
  }
  // colUniform (the vertical window holds one label) and every row window in the vertical window uniform.
  const up = left; // reused: up-runs of equal labels
  const upRow = new Int32Array(n); // up-runs of rowUniform
  for (let x = 0; x < width; x++) {
    up[x] = 1;
    upRow[x] = rowUniform[x]!;
  }
  for (let y = 1; y < height; y++) {
    const r = y * width;
    for (let x = 0; x < width; x++) {
      up[r + x] = labels[offset + r + x] === labels[offset + r - width + x] ? up[r - width + x]! + 1 : 1;
      upRow[r + x] = rowUniform[r + x] ? upRow[r - width + x]! + 1 : 0;
    }
  }
  const band = new Uint8Array(n);
  const down = new Int32Array(width);
  const downRow = new Int32Array(width);
  for (let y = height - 1; y >= 0; y--) {
    const r = y * width;
    for (let x = 0; x < width; x++) {
      const same = y < height - 1 && labels[offset + r + x] === labels[offset + r + width + x];
      down[x] = same ? down[x]! + 1 : 1;
      downRow[x] = rowUniform[r + x] ? (y < height - 1 ? downRow[x]! : 0) + 1 : 0;
      const uniform = up[r + x]! >= need && down[x]! >= need && upRow[r + x]! >= need && downRow[x]! >= need;
      band[r + x] = uniform ? 0 : 1;
    }
  }
  return band;
}

/** Boundary intersections and unions per class, to be summed over images. */
export interface BoundaryCounts {
  intersection: Float64Array;
  union: Float64Array;
}

/**
 * Adds one image's boundary counts: G = target pixels of class c in the target's band, P = predicted pixels
 * of class c in the prediction's band (pixels whose target is ignoreIndex left out of both).
 */
export function accumulateBoundary(
  counts: BoundaryCounts,
  target: ArrayLike<number>,
  pred: ArrayLike<number>,
  offset: number,
  height: number,
  width: number,
  numClasses: number,
  ignoreIndex: number | undefined,
  d: number,
): void {
  const bt = boundaryBand(target, offset, height, width, d);
  const bp = boundaryBand(pred, offset, height, width, d);
  const { intersection, union } = counts;
  for (let i = 0; i < height * width; i++) {
    const t = target[offset + i]!;
    if (t === ignoreIndex) continue;
    const p = pred[offset + i]!;
    const inT = bt[i] === 1;
    const inP = bp[i] === 1 && p >= 0 && p < numClasses && p !== ignoreIndex;
    if (inT && inP && t === p) {
      intersection[t]! += 1;
      union[t]! += 1;
    } else {
      if (inT) union[t]! += 1;
      if (inP) union[p]! += 1;
    }
  }
}

/** Image height and width of a label map shape (the last two dimensions; rank ≥ 2). */
export function imageDims(fn: string, arg: string, shape: readonly number[]): [number, number] {
  if (shape.length < 2) {
    throw new ShapeError(
      `${fn}: ${arg} must have rank ≥ 2 [..., height, width] for boundary IoU (arrays: pass { shape }), got shape ${formatShape(shape)}`,
    );
  }
  return [shape[shape.length - 2]!, shape[shape.length - 1]!];
}

export interface BoundaryIoUResult {
  /** Boundary IoU per class [C] (NaN for a class in neither band). */
  iou: number[];
  /** Mean over classes with a non-empty union. */
  meanIoU: number;
  intersection: Float64Array;
  union: Float64Array;
}

export function checkBoundaryOptions(fn: string, options: BoundaryOptions): void {
  if (options.dilationRatio !== undefined)
    assertNumber(fn, 'dilationRatio', options.dilationRatio, { exclusiveMin: 0 });
  if (options.dilation !== undefined) assertPositiveInteger(fn, 'dilation', options.dilation);
}

/**
 * Boundary IoU per class (Cheng et al. 2021) of label maps pred, target [..., height, width] (arrays need
 * `shape`), summed over the images of the batch.
 */
export function boundaryIoU(
  pred: LabelInput,
  target: LabelInput,
  options: { numClasses: number; ignoreIndex?: number; shape?: number[] } & BoundaryOptions,
): BoundaryIoUResult {
  const fn = 'segmetrics.boundaryIoU';
  assertKnownOptions(fn, options, ['numClasses', 'ignoreIndex', 'shape', 'dilationRatio', 'dilation']);
  const { numClasses, ignoreIndex, shape } = options;
  checkClassOptions(fn, numClasses, ignoreIndex);
  checkBoundaryOptions(fn, options);
  // Checks labels and shapes (throws before any boundary work).
  const counts = countLabels(fn, pred, target, { numClasses, ignoreIndex, shape });
  const [height, width] = imageDims(fn, 'target', counts.shape);
  const t = readLabels(fn, 'target', target, shape);
  const p = readLabels(fn, 'pred', pred, shape);
  const C = numClasses;
  const result: BoundaryCounts = { intersection: new Float64Array(C), union: new Float64Array(C) };
  const d = boundaryWidth(height, width, options);
  const plane = height * width;
  for (let off = 0; off < t.data.length; off += plane) {
    accumulateBoundary(result, t.data, p.data, off, height, width, C, ignoreIndex, d);
  }
  return summarizeBoundary(result);
}

/** Per-class boundary IoU and its mean from summed counts. */
export function summarizeBoundary(counts: BoundaryCounts): BoundaryIoUResult {
  const iou = Array.from(counts.intersection, (v, c) =>
    counts.union[c]! > 0 ? v / counts.union[c]! : Number.NaN,
  );
  const valid = iou.filter((v) => !Number.isNaN(v));
  const meanIoU = valid.length > 0 ? valid.reduce((a, b) => a + b, 0) / valid.length : Number.NaN;
  return { iou, meanIoU, intersection: counts.intersection, union: counts.union };
}
