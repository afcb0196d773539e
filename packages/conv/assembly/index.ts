// WebAssembly SIMD kernels of @lab/conv (conventions: packages/tensor/assembly/index.ts — byte offsets and
// sizes, row-major float32, no allocation, (part, parts) last for kernels the worker pool may split).

/**
 * Filter gradient of a dilated, strided 2-D convolution (channels-last), without im2col:
 *   dw[a, b, c, o] = Σ_{n,i,j} xp[n, i·sh + a·dh, j·sw + b·dw, c] · dy[n, i, j, o]
 * xp: the input already padded/cropped to [n, hp, wp, c]; dy: [n, ho, wo, o]; dw: [kh, kw, c, o].
 * Requires c % 4 == 0 and o % 8 == 0 (the caller pads channels with zeros).
 *
 * One work item is a 4 × 8 block (4 input channels × 8 output channels) of one tap: eight f32x4 accumulators,
 * one 16-byte load of x (splatted lane by lane) and two loads of dy per pixel. Pixels are visited row by row
 * so that the rows of x and dy in use stay in cache; items are split over parts and each part writes only its
 * own blocks of dw (overwriting them).
 */
export function conv2d_filter_grad(
  xp: usize,
  dy: usize,
  dw: usize,
  n: i32,
  hp: i32,
  wp: i32,
  c: i32,
  ho: i32,
  wo: i32,
  o: i32,
  kh: i32,
  kw: i32,
  sh: i32,
  sw: i32,
  dh: i32,
  dwid: i32,
  part: i32,
  parts: i32,
): void {
  const cBlocks = c >> 2;
  const oPanels = o >> 3;
  const perTap = cBlocks * oPanels;
  const items = kh * kw * perTap;
  const start = (items * part) / parts;
  const end = (items * (part + 1)) / parts;
  const zero = f32x4.splat(0);
  // zero this part's blocks
  for (let it = start; it < end; it++) {
    const tap = it / perTap;
    const rem = it - tap * perTap;
    const c0 = (rem / oPanels) << 2;
    const o0 = (rem % oPanels) << 3;
    for (let r = 0; r < 4; r++) {
      const dst = dw + ((<usize>tap * <usize>c + <usize>(c0 + r)) * <usize>o + <usize>o0) * 4;
      v128.store(dst, zero);
      v128.store(dst, zero, 16);
    }
  }
  const xStep = <usize>(sw * c) * 4;
  const dStep = <usize>o * 4;
  for (let b = 0; b < n; b++) {
    for (let i = 0; i < ho; i++) {
      const dyRow = dy + <usize>((b * ho + i) * wo) * <usize>o * 4;
      for (let it = start; it < end; it++) {
        const tap = it / perTap;
        const rem = it - tap * perTap;
        const c0 = (rem / oPanels) << 2;
        const o0 = (rem % oPanels) << 3;
        const ta = tap / kw;
        const tb = tap - ta * kw;
        let xptr = xp + ((<usize>(b * hp + i * sh + ta * dh) * <usize>wp + <usize>(tb * dwid)) * <usize>c + <usize>c0) * 4;
        let dptr = dyRow + <usize>o0 * 4;
        const out = dw + ((<usize>tap * <usize>c + <usize>c0) * <usize>o + <usize>o0) * 4;
        const rowBytes = <usize>o * 4;
        let acc00 = v128.load(out);
        let acc01 = v128.load(out, 16);
        let acc10 = v128.load(out + rowBytes);
        let acc11 = v128.load(out + rowBytes, 16);
        let acc20 = v128.load(out + 2 * rowBytes);
        let acc21 = v128.load(out + 2 * rowBytes, 16);
        let acc30 = v128.load(out + 3 * rowBytes);
        let acc31 = v128.load(out + 3 * rowBytes, 16);
        for (let j = 0; j < wo; j++) {
          const xv = v128.load(xptr);
          const d0 = v128.load(dptr);
          const d1 = v128.load(dptr, 16);
          const x0 = f32x4.splat(f32x4.extract_lane(xv, 0));
          const x1 = f32x4.splat(f32x4.extract_lane(xv, 1));
          const x2 = f32x4.splat(f32x4.extract_lane(xv, 2));
          const x3 = f32x4.splat(f32x4.extract_lane(xv, 3));
          acc00 = f32x4.add(acc00, f32x4.mul(x0, d0));
          acc01 = f32x4.add(acc01, f32x4.mul(x0, d1));
          acc10 = f32x4.add(acc10, f32x4.mul(x1, d0));
          acc11 = f32x4.add(acc11, f32x4.mul(x1, d1));
          acc20 = f32x4.add(acc20, f32x4.mul(x2, d0));
          acc21 = f32x4.add(acc21, f32x4.mul(x2, d1));
          acc30 = f32x4.add(acc30, f32x4.mul(x3, d0));
          acc31 = f32x4.add(acc31, f32x4.mul(x3, d1));
          xptr += xStep;
          dptr += dStep;
        }
        v128.store(out, acc00);
        v128.store(out, acc01, 16);
        v128.store(out + rowBytes, acc10);
        v128.store(out + rowBytes, acc11, 16);
        v128.store(out + 2 * rowBytes, acc20);
        v128.store(out + 2 * rowBytes, acc21, 16);
        v128.store(out + 3 * rowBytes, acc30);
        v128.store(out + 3 * rowBytes, acc31, 16);
      }
    }
  }
}

/**
 * Forward of a dilated, strided 2-D convolution (channels-last), direct (no im2col):
 *   y[n, i, j, o] = Σ_{a,b,c} xp[n, i·sh + a·dh, j·sw + b·dw, c] · w[a, b, c, o]
 * xp: the input padded/cropped to [n, hp, wp, c]; w: [kh, kw, c, o]; y: [n, ho, wo, o]; o % 8 == 0.
 *
 * Register block: 4 neighbouring output pixels of one row × 8 output channels (eight f32x4 accumulators);
 * per (tap, input channel) two loads of w and four splat-loads of x. Split over output rows (n·ho).
 * Pixels past the end of a row reuse the row's first pixel and are not stored.
 */
export function conv2d_forward(
  xp: usize,
  w: usize,
  y: usize,
  n: i32,
  hp: i32,
  wp: i32,
  c: i32,
  ho: i32,
  wo: i32,
  o: i32,
  kh: i32,
  kw: i32,
  sh: i32,
  sw: i32,
  dh: i32,
  dwid: i32,
  part: i32,
  parts: i32,
): void {
  const rows = n * ho;
  const start = (rows * part) / parts;
  const end = (rows * (part + 1)) / parts;
  const oPanels = o >> 3;
  const pixelBytes = <usize>c * 4;
  const wRowBytes = <usize>o * 4;
  for (let row = start; row < end; row++) {
    const b = row / ho;
    const i = row - b * ho;
    for (let j0 = 0; j0 < wo; j0 += 4) {
      const count = min(4, wo - j0);
      for (let p = 0; p < oPanels; p++) {
        let acc00 = f32x4.splat(0);
        let acc01 = f32x4.splat(0);
        let acc10 = f32x4.splat(0);
        let acc11 = f32x4.splat(0);
        let acc20 = f32x4.splat(0);
        let acc21 = f32x4.splat(0);
        let acc30 = f32x4.splat(0);
        let acc31 = f32x4.splat(0);
        for (let a = 0; a < kh; a++) {
          const xRow = xp + <usize>((b * hp + i * sh + a * dh) * wp) * pixelBytes;
          for (let t = 0; t < kw; t++) {
            const x0 = xRow + <usize>(j0 * sw + t * dwid) * pixelBytes;
            const x1 = count > 1 ? x0 + <usize>sw * pixelBytes : x0;
            const x2 = count > 2 ? x0 + <usize>(2 * sw) * pixelBytes : x0;
            const x3 = count > 3 ? x0 + <usize>(3 * sw) * pixelBytes : x0;
            let wptr = w + (<usize>((a * kw + t) * c) * <usize>o + (<usize>p << 3)) * 4;
            for (let ci = 0; ci < c; ci++) {
              const off = <usize>ci * 4;
              const w0 = v128.load(wptr);
              const w1 = v128.load(wptr, 16);
              const s0 = v128.load32_splat(x0 + off);
              const s1 = v128.load32_splat(x1 + off);
              const s2 = v128.load32_splat(x2 + off);
              const s3 = v128.load32_splat(x3 + off);
              acc00 = f32x4.add(acc00, f32x4.mul(s0, w0));
              acc01 = f32x4.add(acc01, f32x4.mul(s0, w1));
              acc10 = f32x4.add(acc10, f32x4.mul(s1, w0));
              acc11 = f32x4.add(acc11, f32x4.mul(s1, w1));
              acc20 = f32x4.add(acc20, f32x4.mul(s2, w0));
              acc21 = f32x4.add(acc21, f32x4.mul(s2, w1));
              acc30 = f32x4.add(acc30, f32x4.mul(s3, w0));
              acc31 = f32x4.add(acc31, f32x4.mul(s3, w1));
              wptr += wRowBytes;
            }
          }
        }
        const out = y + (<usize>((row * wo + j0) * o) + (<usize>p << 3)) * 4;
        const step = <usize>o * 4;
        v128.store(out, acc00);
        v128.store(out, acc01, 16);
        if (count > 1) {
          v128.store(out + step, acc10);
          v128.store(out + step, acc11, 16);
        }
        if (count > 2) {
          v128.store(out + 2 * step, acc20);
          v128.store(out + 2 * step, acc21, 16);
        }
        if (count > 3) {
          v128.store(out + 3 * step, acc30);
          v128.store(out + 3 * step, acc31, 16);
        }
      }
    }
  }
}

/**
 * Filter gradient of a dilated, strided depthwise convolution (channels-last):
 *   dwt[a, b, m, c] = Σ_{n,i,j} xp[n, i·sh + a·dh, j·sw + b·dw, c] · dyt[n, i, j, m, c]
 * xp: the input padded/cropped to [n, hp, wp, c]; dyt: dy rearranged to [n, ho, wo, mult, c]; dwt: [kh, kw,
 * mult, c]; c % 4 == 0. One work item is (tap, m): pixels outer, channels inner (4 at a time), accumulating
 * in the item's own row of dwt (which stays in L1), so x and dy stream through the cache once per item.
 */
export function depthwise_filter_grad(
  xp: usize,
  dyt: usize,
  dwt: usize,
  n: i32,
  hp: i32,
  wp: i32,
  c: i32,
  ho: i32,
  wo: i32,
  mult: i32,
  kh: i32,
  kw: i32,
  sh: i32,
  sw: i32,
  dh: i32,
  dwid: i32,
  part: i32,
  parts: i32,
): void {
  const items = kh * kw * mult;
  const start = (items * part) / parts;
  const end = (items * (part + 1)) / parts;
  const xStep = <usize>(sw * c) * 4;
  const dStep = <usize>(mult * c) * 4;
  const rowBytes = <usize>c * 4;
  const zero = f32x4.splat(0);
  for (let it = start; it < end; it++) {
    const tap = it / mult;
    const m = it - tap * mult;
    const ta = tap / kw;
    const tb = tap - ta * kw;
    const out = dwt + (<usize>tap * <usize>mult + <usize>m) * rowBytes;
    for (let off: usize = 0; off < rowBytes; off += 16) v128.store(out + off, zero);
    for (let b = 0; b < n; b++) {
      for (let i = 0; i < ho; i++) {
        let xptr = xp + (<usize>(b * hp + i * sh + ta * dh) * <usize>wp + <usize>(tb * dwid)) * rowBytes;
        let dptr = dyt + (<usize>((b * ho + i) * wo) * <usize>mult + <usize>m) * rowBytes;
        for (let j = 0; j < wo; j++) {
          for (let off: usize = 0; off < rowBytes; off += 16) {
            v128.store(out + off, f32x4.add(v128.load(out + off), f32x4.mul(v128.load(xptr + off), v128.load(dptr + off))));
          }
          xptr += xStep;
          dptr += dStep;
        }
      }
    }
  }
}

/**
 * Input gradient of a dilated, strided 2-D convolution, one tap (a, b) at a time (the caller runs every tap,
 * in order): dxp[n, i·sh + a·dh, j·sw + b·dw, c] += Σ_o dy[n, i, j, o] · wt[a, b, o, c]
 * dxp: the padded input gradient [n, hp, wp, c] (accumulated); dy: [n, ho, wo, o]; wt: w transposed to
 * [kh, kw, o, c]; c % 8 == 0. Within one tap, distinct output pixels write distinct positions, so parts split
 * over output rows (n·ho). Register block: 4 pixels × 8 input channels.
 */
export function conv2d_input_grad_tap(
  dxp: usize,
  dy: usize,
  wt: usize,
  n: i32,
  hp: i32,
  wp: i32,
  c: i32,
  ho: i32,
  wo: i32,
  o: i32,
  kw: i32,
  sh: i32,
  sw: i32,
  dh: i32,
  dwid: i32,
  a: i32,
  b: i32,
  part: i32,
  parts: i32,
): void {
  const rows = n * ho;
  const start = (rows * part) / parts;
  const end = (rows * (part + 1)) / parts;
  const cPanels = c >> 3;
  const dyPixel = <usize>o * 4;
  const dxPixel = <usize>c * 4;
  const wRow = <usize>c * 4;
  const wTap = wt + <usize>((a * kw + b) * o) * wRow;
  for (let row = start; row < end; row++) {
    const bn = row / ho;
    const i = row - bn * ho;
    const dxRow = dxp + <usize>((bn * hp + i * sh + a * dh) * wp) * dxPixel;
    for (let j0 = 0; j0 < wo; j0 += 4) {
      const count = min(4, wo - j0);
      const d0 = dy + <usize>(row * wo + j0) * dyPixel;
      const d1 = count > 1 ? d0 + dyPixel : d0;
      const d2 = count > 2 ? d0 + 2 * dyPixel : d0;
      const d3 = count > 3 ? d0 + 3 * dyPixel : d0;
      for (let p = 0; p < cPanels; p++) {
        let acc00 = f32x4.splat(0);
        let acc01 = f32x4.splat(0);
        let acc10 = f32x4.splat(0);
        let acc11 = f32x4.splat(0);
        let acc20 = f32x4.splat(0);
        let acc21 = f32x4.splat(0);
        let acc30 = f32x4.splat(0);
        let acc31 = f32x4.splat(0);
        let wptr = wTap + (<usize>p << 5);
        for (let oi = 0; oi < o; oi++) {
          const off = <usize>oi * 4;
          const w0 = v128.load(wptr);
          const w1 = v128.load(wptr, 16);
          const s0 = v128.load32_splat(d0 + off);
          const s1 = v128.load32_splat(d1 + off);
          const s2 = v128.load32_splat(d2 + off);
          const s3 = v128.load32_splat(d3 + off);
          acc00 = f32x4.add(acc00, f32x4.mul(s0, w0));
          acc01 = f32x4.add(acc01, f32x4.mul(s0, w1));
          acc10 = f32x4.add(acc10, f32x4.mul(s1, w0));
          acc11 = f32x4.add(acc11, f32x4.mul(s1, w1));
          acc20 = f32x4.add(acc20, f32x4.mul(s2, w0));
          acc21 = f32x4.add(acc21, f32x4.mul(s2, w1));
          acc30 = f32x4.add(acc30, f32x4.mul(s3, w0));
          acc31 = f32x4.add(acc31, f32x4.mul(s3, w1));
          wptr += wRow;
        }
        const base = dxRow + (<usize>(j0 * sw + b * dwid) * dxPixel) + (<usize>p << 5);
        const step = <usize>sw * dxPixel;
        addStore(base, acc00, acc01);
        if (count > 1) addStore(base + step, acc10, acc11);
        if (count > 2) addStore(base + 2 * step, acc20, acc21);
        if (count > 3) addStore(base + 3 * step, acc30, acc31);
      }
    }
  }
}

@inline
function addStore(dst: usize, lo: v128, hi: v128): void {
  v128.store(dst, f32x4.add(v128.load(dst), lo));
  v128.store(dst, f32x4.add(v128.load(dst, 16), hi), 16);
}
