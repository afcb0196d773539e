/**
 * Host kernels for the filter gradient of a dilated, strided 2-D convolution (channels-last), with no im2col
 * buffer: the WebAssembly SIMD kernel (4 × 8 register blocks per tap, split over the worker pool) and the
 * plain TypeScript fallback.
 *
 *   dw[a, b, c, o] = Σ_{n,i,j} x[n, i·sh + a·dh − top, j·sw + b·dw − left, c] · dy[n, i, j, o]
 */
import { threadCount, useWasmKernels } from '@lab/tensor';
import { convKernels } from './module.js';
import { readPaddedRows, writePaddedInput, writePaddedRows } from './pad.js';

/** The geometry a filter-gradient kernel needs. */
export interface FilterGradGeometry {
  readonly kernel: readonly [number, number];
  readonly stride: readonly [number, number];
  readonly dilation: readonly [number, number];
  /** Padding before the first row and column (top, left). */
  readonly before: readonly [number, number];
}

const roundUp = (v: number, m: number) => Math.ceil(v / m) * m;

/** dw [kh, kw, c, o] from x [n, h, w, c] and dy [n, ho, wo, o], in plain TypeScript (float32 accumulation). */
export function filterGradFallback(
  x: Float32Array,
  xShape: readonly number[],
  dy: Float32Array,
  dyShape: readonly number[],
  g: FilterGradGeometry,
): Float32Array {
  const [n, h, w, c] = xShape as [number, number, number, number];
  const [, ho, wo, o] = dyShape as [number, number, number, number];
  const [kh, kw] = g.kernel;
  const dw = new Float32Array(kh * kw * c * o);
  for (let a = 0; a < kh; a++) {
    for (let b = 0; b < kw; b++) {
      const tap = (a * kw + b) * c * o;
      for (let bn = 0; bn < n; bn++) {
        for (let i = 0; i < ho; i++) {
          const r = i * g.stride[0] + a * g.dilation[0] - g.before[0];
          if (r < 0 || r >= h) continue;
          for (let j = 0; j < wo; j++) {
            const q = j * g.stride[1] + b * g.dilation[1] - g.before[1];
            if (q < 0 || q >= w) continue;
            const xi = ((bn * h + r) * w + q) * c;
            const di = ((bn * ho + i) * wo + j) * o;
            for (let ci = 0; ci < c; ci++) {
              const xv = x[xi + ci]!;
              const row = tap + ci * o;
              for (let oi = 0; oi < o; oi++)
                dw[row + oi] = Math.fround(dw[row + oi]! + Math.fround(xv * dy[di + oi]!));
            }
          }
        }
      }
    }
  }
  return dw;
}

/** The same with the WebAssembly SIMD kernel (channels zero-padded to multiples of 4 and 8 on the way in). */
export function filterGradWasm(
  x: Float32Array,
  xShape: readonly number[],
  dy: Float32Array,
  dyShape: readonly number[],
  g: FilterGradGeometry,
): Float32Array {
  const [n, , , c] = xShape as [number, number, number, number];
  const [, ho, wo, o] = dyShape as [number, number, number, number];
  const [kh, kw] = g.kernel;
  const [sh, sw] = g.stride;
  const [dh, dwid] = g.dilation;
  const [top, left] = g.before;
  const hp = (kh - 1) * dh + (ho - 1) * sh + 1;
  const wp = (kw - 1) * dwid + (wo - 1) * sw + 1;
  const c4 = roundUp(c, 4);
  const o8 = roundUp(o, 8);
  return convKernels.withArena((arena) => {
    const pxp = writePaddedInput(arena, x, xShape, hp, wp, top, left, c4);
    const pdy = writePaddedRows(arena, dy, n * ho * wo, o, o8);
    const pdw = arena.allocF32(kh * kw * c4 * o8);
    const items = kh * kw * (c4 / 4) * (o8 / 8);
    const threads = threadCount();
    const parts = threads > 1 ? Math.min(items, 4 * threads) : 1;
    convKernels.run(
      'conv2d_filter_grad',
      [pxp, pdy, pdw, n, hp, wp, c4, ho, wo, o8, kh, kw, sh, sw, dh, dwid],
      parts,
    );
    // [kh·kw·c4, o8] → [kh·kw·c, o]: drop padded output columns, then padded input channels
    const full = readPaddedRows(arena, pdw, kh * kw * c4, o, o8);
    if (c4 === c) return full;
    const dw = new Float32Array(kh * kw * c * o);
    for (let t = 0; t < kh * kw; t++) dw.set(full.subarray(t * c4 * o, (t * c4 + c) * o), t * c * o);
    return dw;
  });
}

/** dw on the best host path (WebAssembly SIMD, else the fallback). */
export function filterGradHost(
  x: Float32Array,
  xShape: readonly number[],
  dy: Float32Array,
  dyShape: readonly number[],
  g: FilterGradGeometry,
): Float32Array {
  return useWasmKernels()
    ? filterGradWasm(x, xShape, dy, dyShape, g)
    : filterGradFallback(x, xShape, dy, dyShape, g);
}
