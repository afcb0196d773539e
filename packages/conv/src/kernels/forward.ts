/**
 * Host kernels for the forward of a dilated, strided 2-D convolution (channels-last), direct (no im2col):
 * the WebAssembly SIMD kernel (4 pixels × 8 output channels per register block, split over output rows on
 * the worker pool) and the plain TypeScript fallback.
 *
 *   y[n, i, j, o] = Σ_{a,b,c} x[n, i·sh + a·dh − top, j·sw + b·dw − left, c] · w[a, b, c, o]
 */
import { threadCount, useWasmKernels } from '@lab/tensor';
import type { FilterGradGeometry } from './filter-grad.js';
import { convKernels } from './module.js';
import { readPaddedRows, writePaddedInput, writePaddedRows } from './pad.js';

/** y [n, ho, wo, o] in plain TypeScript (float32 accumulation). */
export function convForwardFallback(
  x: Float32Array,
  xShape: readonly number[],
  w: Float32Array,
  wShape: readonly number[],
  out: readonly [number, number],
  g: FilterGradGeometry,
): Float32Array {
  const [n, h, wd, c] = xShape as [number, number, number, number];
  const [kh, kw, , o] = wShape as [number, number, number, number];
  const [ho, wo] = out;
  const y = new Float32Array(n * ho * wo * o);
  for (let b = 0; b < n; b++) {
    for (let i = 0; i < ho; i++) {
      for (let j = 0; j < wo; j++) {
        const yi = ((b * ho + i) * wo + j) * o;
        for (let a = 0; a < kh; a++) {
          const r = i * g.stride[0] + a * g.dilation[0] - g.before[0];
          if (r < 0 || r >= h) continue;
          for (let t = 0; t < kw; t++) {
            const q = j * g.stride[1] + t * g.dilation[1] - g.before[1];
            if (q < 0 || q >= wd) continue;
            const xi = ((b * h + r) * wd + q) * c;
            for (let ci = 0; ci < c; ci++) {
              const xv = x[xi + ci]!;
              const wi = ((a * kw + t) * c + ci) * o;
              for (let oi = 0; oi < o; oi++)
                y[yi + oi] = Math.fround(y[yi + oi]! + Math.fround(xv * w[wi + oi]!));
            }
          }
        }
      }
    }
  }
  return y;
}

/** The same with the WebAssembly SIMD kernel (output channels zero-padded to a multiple of 8 on the way). */
export function convForwardWasm(
  x: Float32Array,
  xShape: readonly number[],
  w: Float32Array,
  wShape: readonly number[],
  out: readonly [number, number],
  g: FilterGradGeometry,
): Float32Array {
  const [n, , , c] = xShape as [number, number, number, number];
  const [kh, kw, , o] = wShape as [number, number, number, number];
  const [ho, wo] = out;
  const [sh, sw] = g.stride;
  const [dh, dwid] = g.dilation;
  const hp = (kh - 1) * dh + (ho - 1) * sh + 1;
  const wp = (kw - 1) * dwid + (wo - 1) * sw + 1;
  const o8 = Math.ceil(o / 8) * 8;
  return convKernels.withArena((arena) => {
    const pxp = writePaddedInput(arena, x, xShape, hp, wp, g.before[0], g.before[1], c);
    const pw = writePaddedRows(arena, w, kh * kw * c, o, o8);
    const py = arena.allocF32(n * ho * wo * o8);
    const rows = n * ho;
    const threads = threadCount();
    const parts = threads > 1 ? Math.min(rows, 4 * threads) : 1;
    convKernels.run(
      'conv2d_forward',
      [pxp, pw, py, n, hp, wp, c, ho, wo, o8, kh, kw, sh, sw, dh, dwid],
      parts,
    );
    return readPaddedRows(arena, py, n * ho * wo, o, o8);
  });
}

/** y on the best host path (WebAssembly SIMD, else the fallback). */
export function convForwardHost(
  x: Float32Array,
  xShape: readonly number[],
  w: Float32Array,
  wShape: readonly number[],
  out: readonly [number, number],
  g: FilterGradGeometry,
): Float32Array {
  return useWasmKernels()
    ? convForwardWasm(x, xShape, w, wShape, out, g)
    : convForwardFallback(x, xShape, w, wShape, out, g);
}
