/**
 * Host kernels for the joint label histogram behind every confusion matrix (Long et al. 2015, FCN's
 * `fast_hist`, done in one pass without a bincount temporary): the WebAssembly SIMD kernel, split by pixel
 * ranges over the worker pool with one set of histograms per part, and the plain TypeScript fallback.
 *
 * Both return the S × S histogram of label codes (S = C + 2; see assembly/index.ts):
 *   code v ∈ [0, C) = class v;  code C = ignoreIndex;  code C + 1 = invalid label (out of range, fraction, NaN).
 *   hist[tCode · S + pCode] = pixels with that pair of codes.
 */
import { threadCount, useWasmKernels } from '@lab/tensor';
import { type SegmetricsKernels, segmetricsKernels } from './module.js';

/** Label arrays that the WebAssembly kernels read directly. */
export type KernelLabelArray = Uint8Array | Uint16Array | Int32Array | Float32Array;

/** Where ignoreIndex applies: bit 0 the target, bit 1 the prediction (as in the kernels). */
export interface HistogramSpec {
  numClasses: number;
  /** The ignore label, or undefined for none. */
  ignoreIndex: number | undefined;
}

type ElementKind = 'u8' | 'u16' | 'i32' | 'f32';

/** The element kind the kernels know an array by, or undefined for other arrays (number[], Int16Array...). */
export function elementKind(a: ArrayLike<number>): ElementKind | undefined {
  if (a instanceof Uint8Array) return 'u8';
  if (a instanceof Uint16Array) return 'u16';
  if (a instanceof Int32Array) return 'i32';
  if (a instanceof Float32Array) return 'f32';
  return undefined;
}

/** Whether ignoreIndex applies to the target (always, when given) and to the prediction (when outside [0, C)). */
export function ignoreMode(spec: HistogramSpec): number {
  const { numClasses: C, ignoreIndex } = spec;
  if (ignoreIndex === undefined) return 0;
  return ignoreIndex >= 0 && ignoreIndex < C ? 1 : 3;
}

/** The ignore value (an i32, checked by the callers) and mode passed to the kernels. */
function kernelIgnore(spec: HistogramSpec): { ignore: number; mode: number } {
  return { ignore: spec.ignoreIndex ?? 0, mode: ignoreMode(spec) };
}

/** Pixels per chunk copied into WebAssembly memory (bounded memory, caches kept warm). */
const CHUNK_PIXELS = 1 << 20;
/** Interleaved histogram copies per part (fixed in the kernels). */
const COPIES = 4;

function bytesPerElement(kind: ElementKind): number {
  return kind === 'u8' ? 1 : kind === 'u16' ? 2 : 4;
}

function addParts(dst: Float64Array, src: Uint32Array, histograms: number, size: number): void {
  for (let h = 0; h < histograms; h++) {
    const off = h * size;
    for (let b = 0; b < size; b++) dst[b]! += src[off + b]!;
  }
}

function chooseParts(pixels: number): number {
  const threads = threadCount();
  if (threads <= 1 || pixels < 65536) return 1;
  return threads;
}

/**
 * The S × S code histogram of a target and a prediction label map of the same length, with the WebAssembly
 * kernels. Element kinds may differ (each pair has its kernel).
 */
export function histogramWasm(
  target: KernelLabelArray,
  pred: KernelLabelArray,
  spec: HistogramSpec,
): Float64Array {
  const C = spec.numClasses;
  const S = C + 2;
  const n = target.length;
  const tk = elementKind(target)!;
  const pk = elementKind(pred)!;
  const { ignore, mode } = kernelIgnore(spec);
  const simdU8 = tk === 'u8' && pk === 'u8' && C <= 253 && (mode === 0 || (ignore >= 0 && ignore <= 255));
  const kernel = (
    simdU8 ? 'hist_u8_u8' : tk === 'u8' && pk === 'u8' ? 'hist_u8_u8_general' : `hist_${tk}_${pk}`
  ) as keyof SegmetricsKernels;
  const out = new Float64Array(S * S);
  const chunk = Math.min(n, CHUNK_PIXELS);
  const maxParts = chooseParts(chunk);
  segmetricsKernels.withArena((arena) => {
    const tb = bytesPerElement(tk);
    const pb = bytesPerElement(pk);
    const pt = arena.alloc(Math.max(16, chunk * tb + 16));
    const pp = arena.alloc(Math.max(16, chunk * pb + 16));
    const ph = arena.alloc(maxParts * COPIES * S * S * 4);
    const memory = segmetricsKernels.memory;
    for (let start = 0; start < n; start += chunk) {
      const len = Math.min(chunk, n - start);
      const buffer = memory.buffer;
      new Uint8Array(buffer, pt, len * tb).set(
        new Uint8Array(target.buffer, target.byteOffset + start * tb, len * tb),
      );
      new Uint8Array(buffer, pp, len * pb).set(
        new Uint8Array(pred.buffer, pred.byteOffset + start * pb, len * pb),
      );
      const parts = len < 65536 ? 1 : maxParts;
      segmetricsKernels.run(kernel, [pt, pp, len, ph, C, ignore, mode], parts);
      addParts(out, new Uint32Array(memory.buffer, ph, parts * COPIES * S * S), parts * COPIES, S * S);
    }
  });
  return out;
}

/**
 * The S × S code histogram with the prediction given as logits [n, C] (channels last): argmax inside the
 * kernel (first maximum; NaN wins, as torch.argmax), with the WebAssembly kernels.
 */
export function histogramLogitsWasm(
  target: KernelLabelArray,
  logits: Float32Array,
  spec: HistogramSpec,
): Float64Array {
  const C = spec.numClasses;
  const S = C + 2;
  const n = target.length;
  const tk = elementKind(target)!;
  const { ignore, mode } = kernelIgnore(spec);
  const kernel = `hist_logits_${tk}` as keyof SegmetricsKernels;
  const out = new Float64Array(S * S);
  const chunk = Math.max(1, Math.min(n, Math.floor(CHUNK_PIXELS / Math.max(1, C >> 2))));
  const maxParts = chooseParts(chunk * Math.max(1, C >> 2));
  segmetricsKernels.withArena((arena) => {
    const tb = bytesPerElement(tk);
    const pt = arena.alloc(Math.max(16, chunk * tb + 16));
    const pl = arena.alloc(Math.max(16, chunk * C * 4));
    const ph = arena.alloc(maxParts * COPIES * S * S * 4);
    const memory = segmetricsKernels.memory;
    for (let start = 0; start < n; start += chunk) {
      const len = Math.min(chunk, n - start);
      const buffer = memory.buffer;
      new Uint8Array(buffer, pt, len * tb).set(
        new Uint8Array(target.buffer, target.byteOffset + start * tb, len * tb),
      );
      new Float32Array(buffer, pl, len * C).set(logits.subarray(start * C, (start + len) * C));
      const parts = len * C < 65536 ? 1 : maxParts;
      segmetricsKernels.run(kernel, [pt, pl, len, ph, C, ignore, mode], parts);
      addParts(out, new Uint32Array(memory.buffer, ph, parts * COPIES * S * S), parts * COPIES, S * S);
    }
  });
  return out;
}

/** The label code of one value (see the module comment); `useIgnore` says whether ignoreIndex applies. */
export function labelCode(v: number, C: number, ignoreIndex: number | undefined, useIgnore: boolean): number {
  if (useIgnore && v === ignoreIndex) return C;
  return v >= 0 && v < C && Number.isInteger(v) ? v : C + 1;
}

/**
 * The S × S code histogram in plain TypeScript, for any array-likes of numbers (the fallback of the kernels,
 * and the path of number[] and other typed arrays). Four interleaved histograms, as the kernels.
 */
export function histogramFallback(
  target: ArrayLike<number>,
  pred: ArrayLike<number>,
  spec: HistogramSpec,
): Float64Array {
  const C = spec.numClasses;
  const S = C + 2;
  const size = S * S;
  const mode = ignoreMode(spec);
  const ignore = spec.ignoreIndex;
  const tIgnore = (mode & 1) !== 0;
  const pIgnore = (mode & 2) !== 0;
  const integerTarget = !(
    target instanceof Float32Array ||
    target instanceof Float64Array ||
    Array.isArray(target)
  );
  const integerPred = !(pred instanceof Float32Array || pred instanceof Float64Array || Array.isArray(pred));
  const h = new Float64Array(COPIES * size);
  const n = target.length;
  if (integerTarget && integerPred) {
    // Integer typed arrays: no fraction test needed.
    for (let i = 0; i < n; i++) {
      const t = target[i]!;
      const p = pred[i]!;
      const tc = tIgnore && t === ignore ? C : t >= 0 && t < C ? t : C + 1;
      const pc = pIgnore && p === ignore ? C : p >= 0 && p < C ? p : C + 1;
      h[(i & 3) * size + tc * S + pc]! += 1;
    }
  } else {
    for (let i = 0; i < n; i++) {
      const tc = labelCode(target[i]!, C, ignore, tIgnore);
      const pc = labelCode(pred[i]!, C, ignore, pIgnore);
      h[(i & 3) * size + tc * S + pc]! += 1;
    }
  }
  const out = new Float64Array(size);
  for (let k = 0; k < COPIES; k++) for (let b = 0; b < size; b++) out[b]! += h[k * size + b]!;
  return out;
}

/** argmax of row i of logits [n, C]: the first maximum, NaN counting as the largest (torch.argmax). */
export function argmaxRow(logits: ArrayLike<number>, i: number, C: number): number {
  const row = i * C;
  let best = logits[row]!;
  if (Number.isNaN(best)) return 0;
  let arg = 0;
  for (let c = 1; c < C; c++) {
    const v = logits[row + c]!;
    if (v > best) {
      best = v;
      arg = c;
    } else if (Number.isNaN(v)) return c;
  }
  return arg;
}

/** The S × S code histogram with logits predictions, in plain TypeScript. */
export function histogramLogitsFallback(
  target: ArrayLike<number>,
  logits: ArrayLike<number>,
  spec: HistogramSpec,
): Float64Array {
  const C = spec.numClasses;
  const S = C + 2;
  const tIgnore = (ignoreMode(spec) & 1) !== 0;
  const out = new Float64Array(S * S);
  for (let i = 0; i < target.length; i++) {
    const tc = labelCode(target[i]!, C, spec.ignoreIndex, tIgnore);
    out[tc * S + argmaxRow(logits, i, C)]! += 1;
  }
  return out;
}

/** The code histogram on the best path: the WebAssembly kernels for the four kinds they read, else TypeScript. */
export function histogramHost(
  target: ArrayLike<number>,
  pred: ArrayLike<number>,
  spec: HistogramSpec,
): Float64Array {
  const tk = elementKind(target);
  const pk = elementKind(pred);
  if (useWasmKernels() && tk && pk && target.length > 0) {
    return histogramWasm(target as KernelLabelArray, pred as KernelLabelArray, spec);
  }
  return histogramFallback(target, pred, spec);
}

/** The code histogram of a target and logits [n, C] on the best path. */
export function histogramLogitsHost(
  target: ArrayLike<number>,
  logits: ArrayLike<number>,
  spec: HistogramSpec,
): Float64Array {
  const tk = elementKind(target);
  if (useWasmKernels() && tk && logits instanceof Float32Array && target.length > 0) {
    return histogramLogitsWasm(target as KernelLabelArray, logits, spec);
  }
  return histogramLogitsFallback(target, logits, spec);
}
