/**
 * Host kernels for the filter gradient of a dilated, strided depthwise convolution (channels-last): the
 * WebAssembly SIMD kernel (4 channels at a time, split over taps and multipliers) and the plain
 * TypeScript fallback.
 *
 *   dw[a, b, c, m] = Σ_{n,i,j} x[n, i·sh + a·dh − top, j·sw + b·dw − left, c] · dy[n, i, j, c·mult + m]
 */
import { threadCount, useWasmKernels } from '@lab/tensor';
import type { FilterGradGeometry } from './filter-grad.js';
import { convKernels } from './module.js';
import { writePaddedInput, writePaddedRows } from './pad.js';

/** dw [kh, kw, c, mult] in plain TypeScript (float32 accumulation). */
export function depthwiseGradFallback(
  x: Float32Array,
  xShape: readonly number[],
  dy: Float32Array,
  dyShape: readonly number[],
  mult: number,
  g: FilterGradGeometry,
): Float32Array {
  const [n, h, w, c] = xShape as [number, number, number, number];
  const [, ho, wo] = dyShape as [number, number, number, number];
  const [kh, kw] = g.kernel;
  const dw = new Float32Array(kh * kw * c * mult);
  for (let a = 0; a < kh; a++) {
    for (let b = 0; b < kw; b++) {
      const tap = (a * kw + b) * c * mult;
      for (let bn = 0; bn < n; bn++) {
        for (let i = 0; i < ho; i++) {
          const r = i * g.stride[0] + a * g.dilation[0] - g.before[0];
          if (r < 0 || r >= h) continue;
          for (let j = 0; j < wo; j++) {
            const q = j * g.stride[1] + b * g.dilation[1] - g.before[1];
            if (q < 0 || q >= w) continue;
            const xi = ((bn * h + r) * w + q) * c;
            const di = ((bn * ho + i) * wo + j) * c * mult;
            for (let k = 0; k < c * mult; k++) {
              dw[tap + k] = Math.fround(
                dw[tap + k]! + Math.fround(x[xi + Math.floor(k / mult)]! * dy[di + k]!),
              );
            }
          }
        }
      }
    }
  }
  return dw;
}

/** The same with the WebAssembly SIMD kernel. */
export function depthwiseGradWasm(
  x: Float32Array,
  xShape: readonly number[],
  dy: Float32Array,
  dyShape: readonly number[],
  mult: number,
  g: FilterGradGeometry,
): Float32Array {
  const [n, , , c] = xShape as [number, number, number, number];
  const [, ho, wo] = dyShape as [number, number, number, number];
  const [kh, kw] = g.kernel;
  const [sh, sw] = g.stride;
  const [dh, dwid] = g.dilation;
  const hp = (kh - 1) * dh + (ho - 1) * sh + 1;
  const wp = (kw - 1) * dwid + (wo - 1) * sw + 1;
  const c4 = Math.ceil(c / 4) * 4;
  const pixels = n * ho * wo;
  // dy [pixels, c, mult] → [pixels, mult, c]
  let dyt = dy;
  if (mult > 1) {
    dyt = new Float32Array(dy.length);
    for (let p = 0; p < pixels; p++) {
      const base = p * c * mult;
      for (let ci = 0; ci < c; ci++)
        for (let m = 0; m < mult; m++) dyt[base + m * c + ci] = dy[base + ci * mult + m]!;
    }
  }
  return convKernels.withArena((arena) => {
    const pxp = writePaddedInput(arena, x, xShape, hp, wp, g.before[0], g.before[1], c4);
    const pdy = writePaddedRows(arena, dyt, pixels * mult, c, c4);
    const pdw = arena.allocF32(kh * kw * mult * c4);
    const items = kh * kw * mult;
    const threads = threadCount();
    const parts = threads > 1 ? Math.min(items, 4 * threads) : 1;
    convKernels.run(
      'depthwise_filter_grad',
      [pxp, pdy, pdw, n, hp, wp, c4, ho, wo, mult, kh, kw, sh, sw, dh, dwid],
      parts,
    );
    const dwt = arena.f32(pdw, kh * kw * mult * c4);
    const dw = new Float32Array(kh * kw * c * mult);
    for (let t = 0; t < kh * kw; t++) {
      for (let ci = 0; ci < c; ci++) {
        for (let m = 0; m < mult; m++) dw[(t * c + ci) * mult + m] = dwt[(t * mult + m) * c4 + ci]!;
      }
    }
    return dw;
  });
}

/** dw on the best host path (WebAssembly SIMD, else the fallback). */
export function depthwiseGradHost(
  x: Float32Array,
  xShape: readonly number[],
  dy: Float32Array,
  dyShape: readonly number[],
  mult: number,
  g: FilterGradGeometry,
): Float32Array {
  return useWasmKernels()
    ? depthwiseGradWasm(x, xShape, dy, dyShape, mult, g)
    : depthwiseGradFallback(x, xShape, dy, dyShape, mult, g);
}
