/**
 * Host kernels for the input gradient of a dilated, strided 2-D convolution (channels-last), as a scatter per
 * tap with no zero insertion (the composite convolves a zero-inserted dy, s² times the work at stride s): the
 * WebAssembly SIMD kernel (4 pixels × 8 input channels per register block, split over output rows on the
 * worker pool) and the plain TypeScript fallback.
 *
 *   dx[n, i·sh + a·dh − top, j·sw + b·dw − left, c] += Σ_o dy[n, i, j, o] · w[a, b, c, o]
 */
import { threadCount, useWasmKernels } from '@lab/tensor';
import type { FilterGradGeometry } from './filter-grad.js';
import { convKernels } from './module.js';

/** dx [n, h, w, c] in plain TypeScript (float32 accumulation). */
export function inputGradFallback(
  dy: Float32Array,
  dyShape: readonly number[],
  w: Float32Array,
  wShape: readonly number[],
  xShape: readonly number[],
  g: FilterGradGeometry,
): Float32Array {
  const [n, h, wd, c] = xShape as [number, number, number, number];
  const [, ho, wo, o] = dyShape as [number, number, number, number];
  const [kh, kw] = wShape as [number, number];
  const dx = new Float32Array(n * h * wd * c);
  for (let a = 0; a < kh; a++) {
    for (let b = 0; b < kw; b++) {
      for (let bn = 0; bn < n; bn++) {
        for (let i = 0; i < ho; i++) {
          const r = i * g.stride[0] + a * g.dilation[0] - g.before[0];
          if (r < 0 || r >= h) continue;
          for (let j = 0; j < wo; j++) {
            const q = j * g.stride[1] + b * g.dilation[1] - g.before[1];
            if (q < 0 || q >= wd) continue;
            const xi = ((bn * h + r) * wd + q) * c;
            const di = ((bn * ho + i) * wo + j) * o;
            for (let ci = 0; ci < c; ci++) {
              const wi = ((a * kw + b) * c + ci) * o;
              let s = 0;
              for (let oi = 0; oi < o; oi++) s = Math.fround(s + Math.fround(dy[di + oi]! * w[wi + oi]!));
              dx[xi + ci] = Math.fround(dx[xi + ci]! + s);
            }
          }
        }
      }
    }
  }
  return dx;
}

/** The same with the WebAssembly SIMD kernel (input channels zero-padded to a multiple of 8 on the way). */
export function inputGradWasm(
  dy: Float32Array,
  dyShape: readonly number[],
  w: Float32Array,
  wShape: readonly number[],
  xShape: readonly number[],
  g: FilterGradGeometry,
): Float32Array {
  const [n, h, wd, c] = xShape as [number, number, number, number];
  const [, ho, wo, o] = dyShape as [number, number, number, number];
  const [kh, kw] = wShape as [number, number];
  const [sh, sw] = g.stride;
  const [dh, dwid] = g.dilation;
  const [top, left] = g.before;
  const hp = (kh - 1) * dh + (ho - 1) * sh + 1;
  const wp = (kw - 1) * dwid + (wo - 1) * sw + 1;
  const c8 = Math.ceil(c / 8) * 8;
  // w [kh, kw, c, o] → wt [kh, kw, o, c8]
  const wt = new Float32Array(kh * kw * o * c8);
  for (let t = 0; t < kh * kw; t++) {
    for (let ci = 0; ci < c; ci++) {
      for (let oi = 0; oi < o; oi++) wt[(t * o + oi) * c8 + ci] = w[(t * c + ci) * o + oi]!;
    }
  }
  return convKernels.withArena((arena) => {
    const pdy = arena.write(dy);
    const pwt = arena.write(wt);
    const pdx = arena.allocF32(n * hp * wp * c8);
    arena.fillF32(pdx, n * hp * wp * c8, 0);
    const rows = n * ho;
    const threads = threadCount();
    const parts = threads > 1 ? Math.min(rows, 4 * threads) : 1;
    for (let a = 0; a < kh; a++) {
      for (let b = 0; b < kw; b++) {
        convKernels.run(
          'conv2d_input_grad_tap',
          [pdx, pdy, pwt, n, hp, wp, c8, ho, wo, o, kw, sh, sw, dh, dwid, a, b],
          parts,
        );
      }
    }
    // crop the padded gradient to x: dx[r, q] = dxp[r + top, q + left] (zero where the forward never read)
    const dxp = arena.f32(pdx, n * hp * wp * c8);
    const dx = new Float32Array(n * h * wd * c);
    for (let bn = 0; bn < n; bn++) {
      for (let r = 0; r < h; r++) {
        const pr = r + top;
        if (pr >= hp) break;
        for (let q = 0; q < wd; q++) {
          const pq = q + left;
          if (pq >= wp) break;
          const from = ((bn * hp + pr) * wp + pq) * c8;
          dx.set(dxp.subarray(from, from + c), ((bn * h + r) * wd + q) * c);
        }
      }
    }
    return dx;
  });
}

/** dx on the best host path (WebAssembly SIMD, else the fallback). */
export function inputGradHost(
  dy: Float32Array,
  dyShape: readonly number[],
  w: Float32Array,
  wShape: readonly number[],
  xShape: readonly number[],
  g: FilterGradGeometry,
): Float32Array {
  return useWasmKernels()
    ? inputGradWasm(dy, dyShape, w, wShape, xShape, g)
    : inputGradFallback(dy, dyShape, w, wShape, xShape, g);
}
