// WebAssembly kernels of @lab/segmetrics: joint label histograms (confusion matrices), compiled by lab-asc
// (AssemblyScript, --runtime stub). Conventions of every kernel here (see packages/tensor/assembly/index.ts):
//   - arguments are byte offsets into memory (usize) and sizes (i32); no static data, no allocation;
//   - kernels that the worker pool may split take (part, parts) last and touch only their share.
//
// ignoreMode: bit 0 = ignoreIndex applies to the target, bit 1 = it applies to the prediction (a prediction of
// ignoreIndex at a labelled pixel lands in column C: a miss, as mmseg counts it).
//
// The histogram layout. Every label is first mapped to a code in [0, S), S = C + 2:
//   code = v            for a class label v in [0, C)
//   code = C            for ignoreIndex
//   code = C + 1        for anything else (out of range, not an integer, NaN): an error, found later by a scan
// and the pixel is counted in bin (targetCode · S + predCode) of an S × S histogram of u32 counts. Rows C (ignored
// targets) and C + 1 and column C + 1 are read by the caller only to detect errors.
//
// Neighbouring pixels of a label map almost always fall in the same bin, so a single histogram makes every
// increment wait for the previous store to the same address (store-to-load forwarding, ~5 cycles). Each part
// keeps `copies` interleaved histograms (pixel i goes to copy i mod copies), which breaks that chain; the
// caller sums the copies and the parts. A part's histograms sit at hist + part · copies · S² · 4 bytes and are
// zeroed here.

// Pixels per unrolled step: one 16-byte load per label map for u8, then 16 increments.
const STEP: i32 = 16;

/**
 * Label codes of 16 u8 labels at once: C where v = ignore (and ignoring applies), else v where v < C, else C + 1
 * (all lanes u8, so C ≤ 253; ignore must lie in [0, 255]).
 */
function codes_u8x16(v: v128, c: v128, ignore: v128, useIgnore: v128, cIgnore: v128, cBad: v128): v128 {
  const valid = i8x16.lt_u(v, c);
  const isIgnore = v128.and(i8x16.eq(v, ignore), useIgnore);
  return v128.bitselect(cIgnore, v128.bitselect(v, cBad, valid), isIgnore);
}

function bump(addr: usize): void {
  store<u32>(addr, load<u32>(addr) + 1);
}

function zeroHist(base: usize, bytes: usize): void {
  memory.fill(base, 0, bytes);
}

/**
 * Confusion histogram of two u8 label maps (target t, prediction p, n pixels), 4 interleaved copies per part.
 * Needs C ≤ 253. The codes of 16 pixels are computed with SIMD, widened to u16 bin indices (tCode · S + pCode),
 * and each lane bumps its bin. Split over contiguous pixel ranges.
 */
export function hist_u8_u8(
  t: usize,
  p: usize,
  n: i32,
  hist: usize,
  C: i32,
  ignore: i32,
  ignoreMode: i32,
  part: i32,
  parts: i32,
): void {
  const S = C + 2;
  const histBytes = <usize>(S * S) << 2;
  const base0 = hist + <usize>part * 4 * histBytes;
  const base1 = base0 + histBytes;
  const base2 = base1 + histBytes;
  const base3 = base2 + histBytes;
  zeroHist(base0, 4 * histBytes);
  const start = <i32>((<i64>n * part) / parts);
  const end = <i32>((<i64>n * (part + 1)) / parts);
  const vc = i8x16.splat(<i8>C);
  const vIgnore = i8x16.splat(<i8>ignore);
  const vTargetIgnore = ignoreMode & 1 ? i8x16.splat(-1) : i8x16.splat(0);
  const vPredIgnore = ignoreMode & 2 ? i8x16.splat(-1) : i8x16.splat(0);
  const vcIgnore = i8x16.splat(<i8>C);
  const vcBad = i8x16.splat(<i8>(C + 1));
  const vS = i16x8.splat(<i16>S);
  let i = start;
  for (; i + STEP <= end; i += STEP) {
    const tv = v128.load(t + <usize>i);
    const pv = v128.load(p + <usize>i);
    // Runs: 16 pixels with one target label and one predicted label (the inside of a region that is predicted
    // right, most of a real label map) are one bin; add 16 at once.
    const same = v128.and(
      i8x16.eq(tv, i8x16.shuffle(tv, tv, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)),
      i8x16.eq(pv, i8x16.shuffle(pv, pv, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)),
    );
    if (i8x16.all_true(same)) {
      const tc0 = codeInt(<i32>i8x16.extract_lane_u(tv, 0), C, ignore, ignoreMode & 1);
      const pc0 = codeInt(<i32>i8x16.extract_lane_u(pv, 0), C, ignore, ignoreMode & 2);
      const addr = base0 + (<usize>(tc0 * S + pc0) << 2);
      store<u32>(addr, load<u32>(addr) + STEP);
      continue;
    }
    const tc = codes_u8x16(tv, vc, vIgnore, vTargetIgnore, vcIgnore, vcBad);
    const pc = codes_u8x16(pv, vc, vIgnore, vPredIgnore, vcIgnore, vcBad);
    // Bin byte offsets (tCode · S + pCode) · 4, as u16 lanes (S² · 4 < 2^18 would overflow u16 for big C,
    // so the ·4 is applied after extraction).
    const lo = i16x8.add(i16x8.mul(i16x8.extend_low_i8x16_u(tc), vS), i16x8.extend_low_i8x16_u(pc));
    const hi = i16x8.add(i16x8.mul(i16x8.extend_high_i8x16_u(tc), vS), i16x8.extend_high_i8x16_u(pc));
    bump(base0 + (<usize>i16x8.extract_lane_u(lo, 0) << 2));
    bump(base1 + (<usize>i16x8.extract_lane_u(lo, 1) << 2));
    bump(base2 + (<usize>i16x8.extract_lane_u(lo, 2) << 2));
    bump(base3 + (<usize>i16x8.extract_lane_u(lo, 3) << 2));
    bump(base0 + (<usize>i16x8.extract_lane_u(lo, 4) << 2));
    bump(base1 + (<usize>i16x8.extract_lane_u(lo, 5) << 2));
    bump(base2 + (<usize>i16x8.extract_lane_u(lo, 6) << 2));
    bump(base3 + (<usize>i16x8.extract_lane_u(lo, 7) << 2));
    bump(base0 + (<usize>i16x8.extract_lane_u(hi, 0) << 2));
    bump(base1 + (<usize>i16x8.extract_lane_u(hi, 1) << 2));
    bump(base2 + (<usize>i16x8.extract_lane_u(hi, 2) << 2));
    bump(base3 + (<usize>i16x8.extract_lane_u(hi, 3) << 2));
    bump(base0 + (<usize>i16x8.extract_lane_u(hi, 4) << 2));
    bump(base1 + (<usize>i16x8.extract_lane_u(hi, 5) << 2));
    bump(base2 + (<usize>i16x8.extract_lane_u(hi, 6) << 2));
    bump(base3 + (<usize>i16x8.extract_lane_u(hi, 7) << 2));
  }
  for (; i < end; i++) {
    const tc = codeInt(<i32>load<u8>(t + <usize>i), C, ignore, ignoreMode & 1);
    const pc = codeInt(<i32>load<u8>(p + <usize>i), C, ignore, ignoreMode & 2);
    bump(base0 + (<usize>(tc * S + pc) << 2));
  }
}

/**
 * Code of an integer label: ignore → C (when useIgnore ≠ 0, checked first, so an ignoreIndex inside [0, C) wins
 * over the class); v in [0, C) → v; else C + 1.
 */
function codeInt(v: i32, C: i32, ignore: i32, useIgnore: i32): i32 {
  const inRange = <u32>v < <u32>C ? v : C + 1;
  return useIgnore !== 0 && v === ignore ? C : inRange;
}

/** Code of a float label: as codeInt for integer values; fractions, infinities and NaN → C + 1. */
function codeFloat(v: f32, C: i32, ignore: i32, useIgnore: i32): i32 {
  const k = <i32>v; // saturating (nontrapping-f2i): NaN → 0, out of range → ±2^31, caught below
  if (<f32>k !== v) return C + 1;
  return codeInt(k, C, ignore, useIgnore);
}

function codeOf<T>(ptr: usize, i: i32, C: i32, ignore: i32, useIgnore: i32): i32 {
  if (isFloat<T>()) return codeFloat(<f32>load<T>(ptr + (<usize>i << alignof<T>())), C, ignore, useIgnore);
  return codeInt(<i32>load<T>(ptr + (<usize>i << alignof<T>())), C, ignore, useIgnore);
}

/** Whether the 16 elements of type T at index i are bitwise equal (a run: one bin for all of them). */
function allEqual16<T>(ptr: usize, i: i32): bool {
  const a = ptr + (<usize>i << alignof<T>());
  if (sizeof<T>() === 1) {
    return i8x16.all_true(i8x16.eq(v128.load(a), i8x16.splat(load<i8>(a))));
  } else if (sizeof<T>() === 2) {
    const first = i16x8.splat(load<i16>(a));
    return i16x8.all_true(v128.and(i16x8.eq(v128.load(a), first), i16x8.eq(v128.load(a, 16), first)));
  }
  const first = i32x4.splat(load<i32>(a));
  const e01 = v128.and(i32x4.eq(v128.load(a), first), i32x4.eq(v128.load(a, 16), first));
  const e23 = v128.and(i32x4.eq(v128.load(a, 32), first), i32x4.eq(v128.load(a, 48), first));
  return i32x4.all_true(v128.and(e01, e23));
}

/**
 * The general confusion histogram: target of element type T and prediction of type U (u8, u16, i32 or f32),
 * 4 interleaved copies per part. Blocks of 16 pixels that are runs in both maps add 16 to one bin; other
 * blocks compute codes per pixel. Split over contiguous pixel ranges.
 */
function histGeneral<T, U>(
  t: usize,
  p: usize,
  n: i32,
  hist: usize,
  C: i32,
  ignore: i32,
  ignoreMode: i32,
  part: i32,
  parts: i32,
): void {
  const S = C + 2;
  const histBytes = <usize>(S * S) << 2;
  const base0 = hist + <usize>part * 4 * histBytes;
  const base1 = base0 + histBytes;
  const base2 = base1 + histBytes;
  const base3 = base2 + histBytes;
  zeroHist(base0, 4 * histBytes);
  const start = <i32>((<i64>n * part) / parts);
  const end = <i32>((<i64>n * (part + 1)) / parts);
  let i = start;
  for (; i + STEP <= end; i += STEP) {
    if (allEqual16<T>(t, i) && allEqual16<U>(p, i)) {
      const addr = base0 + (<usize>(codeOf<T>(t, i, C, ignore, ignoreMode & 1) * S + codeOf<U>(p, i, C, ignore, ignoreMode & 2)) << 2);
      store<u32>(addr, load<u32>(addr) + STEP);
      continue;
    }
    for (let j = i; j < i + STEP; j += 4) {
      const b0 = codeOf<T>(t, j, C, ignore, ignoreMode & 1) * S + codeOf<U>(p, j, C, ignore, ignoreMode & 2);
      const b1 = codeOf<T>(t, j + 1, C, ignore, ignoreMode & 1) * S + codeOf<U>(p, j + 1, C, ignore, ignoreMode & 2);
      const b2 = codeOf<T>(t, j + 2, C, ignore, ignoreMode & 1) * S + codeOf<U>(p, j + 2, C, ignore, ignoreMode & 2);
      const b3 = codeOf<T>(t, j + 3, C, ignore, ignoreMode & 1) * S + codeOf<U>(p, j + 3, C, ignore, ignoreMode & 2);
      bump(base0 + (<usize>b0 << 2));
      bump(base1 + (<usize>b1 << 2));
      bump(base2 + (<usize>b2 << 2));
      bump(base3 + (<usize>b3 << 2));
    }
  }
  for (; i + 4 <= end; i += 4) {
    const b0 = codeOf<T>(t, i, C, ignore, ignoreMode & 1) * S + codeOf<U>(p, i, C, ignore, ignoreMode & 2);
    const b1 = codeOf<T>(t, i + 1, C, ignore, ignoreMode & 1) * S + codeOf<U>(p, i + 1, C, ignore, ignoreMode & 2);
    const b2 = codeOf<T>(t, i + 2, C, ignore, ignoreMode & 1) * S + codeOf<U>(p, i + 2, C, ignore, ignoreMode & 2);
    const b3 = codeOf<T>(t, i + 3, C, ignore, ignoreMode & 1) * S + codeOf<U>(p, i + 3, C, ignore, ignoreMode & 2);
    bump(base0 + (<usize>b0 << 2));
    bump(base1 + (<usize>b1 << 2));
    bump(base2 + (<usize>b2 << 2));
    bump(base3 + (<usize>b3 << 2));
  }
  for (; i < end; i++) {
    bump(base0 + (<usize>(codeOf<T>(t, i, C, ignore, ignoreMode & 1) * S + codeOf<U>(p, i, C, ignore, ignoreMode & 2)) << 2));
  }
}

// Instantiations for every pair of element types (target first, prediction second).
export function hist_u8_u16(t: usize, p: usize, n: i32, h: usize, C: i32, ig: i32, mode: i32, part: i32, parts: i32): void {
  histGeneral<u8, u16>(t, p, n, h, C, ig, mode, part, parts);
}
export function hist_u8_i32(t: usize, p: usize, n: i32, h: usize, C: i32, ig: i32, mode: i32, part: i32, parts: i32): void {
  histGeneral<u8, i32>(t, p, n, h, C, ig, mode, part, parts);
}
export function hist_u8_f32(t: usize, p: usize, n: i32, h: usize, C: i32, ig: i32, mode: i32, part: i32, parts: i32): void {
  histGeneral<u8, f32>(t, p, n, h, C, ig, mode, part, parts);
}
export function hist_u16_u8(t: usize, p: usize, n: i32, h: usize, C: i32, ig: i32, mode: i32, part: i32, parts: i32): void {
  histGeneral<u16, u8>(t, p, n, h, C, ig, mode, part, parts);
}
export function hist_u16_u16(t: usize, p: usize, n: i32, h: usize, C: i32, ig: i32, mode: i32, part: i32, parts: i32): void {
  histGeneral<u16, u16>(t, p, n, h, C, ig, mode, part, parts);
}
export function hist_u16_i32(t: usize, p: usize, n: i32, h: usize, C: i32, ig: i32, mode: i32, part: i32, parts: i32): void {
  histGeneral<u16, i32>(t, p, n, h, C, ig, mode, part, parts);
}
export function hist_u16_f32(t: usize, p: usize, n: i32, h: usize, C: i32, ig: i32, mode: i32, part: i32, parts: i32): void {
  histGeneral<u16, f32>(t, p, n, h, C, ig, mode, part, parts);
}
export function hist_i32_u8(t: usize, p: usize, n: i32, h: usize, C: i32, ig: i32, mode: i32, part: i32, parts: i32): void {
  histGeneral<i32, u8>(t, p, n, h, C, ig, mode, part, parts);
}
export function hist_i32_u16(t: usize, p: usize, n: i32, h: usize, C: i32, ig: i32, mode: i32, part: i32, parts: i32): void {
  histGeneral<i32, u16>(t, p, n, h, C, ig, mode, part, parts);
}
export function hist_i32_i32(t: usize, p: usize, n: i32, h: usize, C: i32, ig: i32, mode: i32, part: i32, parts: i32): void {
  histGeneral<i32, i32>(t, p, n, h, C, ig, mode, part, parts);
}
export function hist_i32_f32(t: usize, p: usize, n: i32, h: usize, C: i32, ig: i32, mode: i32, part: i32, parts: i32): void {
  histGeneral<i32, f32>(t, p, n, h, C, ig, mode, part, parts);
}
export function hist_f32_u8(t: usize, p: usize, n: i32, h: usize, C: i32, ig: i32, mode: i32, part: i32, parts: i32): void {
  histGeneral<f32, u8>(t, p, n, h, C, ig, mode, part, parts);
}
export function hist_f32_u16(t: usize, p: usize, n: i32, h: usize, C: i32, ig: i32, mode: i32, part: i32, parts: i32): void {
  histGeneral<f32, u16>(t, p, n, h, C, ig, mode, part, parts);
}
export function hist_f32_i32(t: usize, p: usize, n: i32, h: usize, C: i32, ig: i32, mode: i32, part: i32, parts: i32): void {
  histGeneral<f32, i32>(t, p, n, h, C, ig, mode, part, parts);
}
export function hist_f32_f32(t: usize, p: usize, n: i32, h: usize, C: i32, ig: i32, mode: i32, part: i32, parts: i32): void {
  histGeneral<f32, f32>(t, p, n, h, C, ig, mode, part, parts);
}
/** The u8 pair through the general per-pixel path (for C > 253, or when ignore lies in [0, C)). */
export function hist_u8_u8_general(t: usize, p: usize, n: i32, h: usize, C: i32, ig: i32, mode: i32, part: i32, parts: i32): void {
  histGeneral<u8, u8>(t, p, n, h, C, ig, mode, part, parts);
}

/**
 * Confusion histogram with the prediction given as logits [n, C] (channels last, f32): the predicted class is
 * the first index of the largest logit (NaN counts as largest, as torch.argmax), so that no one-hot or argmax
 * tensor is ever written. Target of element type T. 4 interleaved copies per part; split over pixel ranges.
 */
function histLogits<T>(
  t: usize,
  logits: usize,
  n: i32,
  h: usize,
  C: i32,
  ignore: i32,
  ignoreMode: i32,
  part: i32,
  parts: i32,
): void {
  const S = C + 2;
  const histBytes = <usize>(S * S) << 2;
  const base = h + <usize>part * 4 * histBytes;
  zeroHist(base, 4 * histBytes);
  const start = <i32>((<i64>n * part) / parts);
  const end = <i32>((<i64>n * (part + 1)) / parts);
  const rowBytes = <usize>C << 2;
  let i = start;
  // Four pixels at a time, one per lane: four independent running maxima (the compare-select chain of one
  // pixel is latency-bound). A value wins when strictly greater, or when it is the first NaN (once best is
  // NaN nothing wins: NaN compares false both ways), as torch.argmax.
  for (; i + 4 <= end; i += 4) {
    const r0 = logits + <usize>i * rowBytes;
    const r1 = r0 + rowBytes;
    const r2 = r1 + rowBytes;
    const r3 = r2 + rowBytes;
    let best = f32x4(load<f32>(r0), load<f32>(r1), load<f32>(r2), load<f32>(r3));
    let arg = i32x4.splat(0);
    for (let c = 1; c < C; c++) {
      const off = <usize>c << 2;
      const v = f32x4(load<f32>(r0 + off), load<f32>(r1 + off), load<f32>(r2 + off), load<f32>(r3 + off));
      const vNaN = f32x4.ne(v, v);
      const bestNumber = f32x4.eq(best, best);
      const wins = v128.or(f32x4.gt(v, best), v128.and(vNaN, bestNumber));
      best = v128.bitselect(v, best, wins);
      arg = v128.bitselect(i32x4.splat(c), arg, wins);
    }
    const b0 = codeOf<T>(t, i, C, ignore, ignoreMode & 1) * S + i32x4.extract_lane(arg, 0);
    const b1 = codeOf<T>(t, i + 1, C, ignore, ignoreMode & 1) * S + i32x4.extract_lane(arg, 1);
    const b2 = codeOf<T>(t, i + 2, C, ignore, ignoreMode & 1) * S + i32x4.extract_lane(arg, 2);
    const b3 = codeOf<T>(t, i + 3, C, ignore, ignoreMode & 1) * S + i32x4.extract_lane(arg, 3);
    bump(base + (<usize>b0 << 2));
    bump(base + histBytes + (<usize>b1 << 2));
    bump(base + 2 * histBytes + (<usize>b2 << 2));
    bump(base + 3 * histBytes + (<usize>b3 << 2));
  }
  for (; i < end; i++) {
    const row = logits + <usize>i * rowBytes;
    let best = load<f32>(row);
    let arg = 0;
    for (let c = 1; c < C; c++) {
      const v = load<f32>(row + (<usize>c << 2));
      const wins = (v > best) | (isNaN<f32>(v) & !isNaN<f32>(best));
      best = select<f32>(v, best, wins);
      arg = select<i32>(c, arg, wins);
    }
    const b = codeOf<T>(t, i, C, ignore, ignoreMode & 1) * S + arg;
    bump(base + <usize>(i & 3) * histBytes + (<usize>b << 2));
  }
}

export function hist_logits_u8(t: usize, l: usize, n: i32, h: usize, C: i32, ig: i32, mode: i32, part: i32, parts: i32): void {
  histLogits<u8>(t, l, n, h, C, ig, mode, part, parts);
}
export function hist_logits_u16(t: usize, l: usize, n: i32, h: usize, C: i32, ig: i32, mode: i32, part: i32, parts: i32): void {
  histLogits<u16>(t, l, n, h, C, ig, mode, part, parts);
}
export function hist_logits_i32(t: usize, l: usize, n: i32, h: usize, C: i32, ig: i32, mode: i32, part: i32, parts: i32): void {
  histLogits<i32>(t, l, n, h, C, ig, mode, part, parts);
}
export function hist_logits_f32(t: usize, l: usize, n: i32, h: usize, C: i32, ig: i32, mode: i32, part: i32, parts: i32): void {
  histLogits<f32>(t, l, n, h, C, ig, mode, part, parts);
}

/**
 * The boundary band of one label image [H, W] (Cheng et al. 2021, as boundary_iou's mask_to_boundary: what d
 * erosions with a 3 × 3 kernel of each class's zero-bordered mask remove): band[i] = 1 when a different label,
 * or the image's outside, lies within chessboard distance d of pixel i. From run lengths of equal labels, O(1)
 * per pixel whatever d. Scratch: rowUniform (u8 [n]), left and upRow (i32 [n]), down and downRow (i32 [W]).
 */
function boundaryBand<T>(
  labels: usize,
  H: i32,
  W: i32,
  d: i32,
  band: usize,
  rowUniform: usize,
  left: usize,
  upRow: usize,
  down: usize,
  downRow: usize,
): void {
  const need = d + 1;
  const sz = alignof<T>();
  // rowUniform: the horizontal window [x − d, x + d] lies inside the row and holds one label.
  for (let y = 0; y < H; y++) {
    const r = <usize>y * <usize>W;
    let run = 0;
    let prev: T = load<T>(labels + (r << sz));
    for (let x = 0; x < W; x++) {
      const v = load<T>(labels + ((r + <usize>x) << sz));
      run = x > 0 && v === prev ? run + 1 : 1;
      prev = v;
      store<i32>(left + ((r + <usize>x) << 2), run);
    }
    run = 0;
    for (let x = W - 1; x >= 0; x--) {
      const v = load<T>(labels + ((r + <usize>x) << sz));
      run = x < W - 1 && v === prev ? run + 1 : 1;
      prev = v;
      const uniform = load<i32>(left + ((r + <usize>x) << 2)) >= need && run >= need;
      store<u8>(rowUniform + r + <usize>x, <u8>uniform);
    }
  }
  // Up-runs of equal labels (into left, reused) and of uniform rows.
  for (let y = 0; y < H; y++) {
    const r = <usize>y * <usize>W;
    for (let x = 0; x < W; x++) {
      const i = r + <usize>x;
      const ru = <i32>load<u8>(rowUniform + i);
      if (y === 0) {
        store<i32>(left + (i << 2), 1);
        store<i32>(upRow + (i << 2), ru);
      } else {
        const j = i - <usize>W;
        const same = load<T>(labels + (i << sz)) === load<T>(labels + (j << sz));
        store<i32>(left + (i << 2), same ? load<i32>(left + (j << 2)) + 1 : 1);
        store<i32>(upRow + (i << 2), ru ? load<i32>(upRow + (j << 2)) + 1 : 0);
      }
    }
  }
  // Down-runs, and the band: uniform when the vertical window holds one label and only uniform rows.
  for (let y = H - 1; y >= 0; y--) {
    const r = <usize>y * <usize>W;
    for (let x = 0; x < W; x++) {
      const i = r + <usize>x;
      const dx = <usize>x << 2;
      const last = y === H - 1;
      const same = !last && load<T>(labels + (i << sz)) === load<T>(labels + ((i + <usize>W) << sz));
      const dn = same ? load<i32>(down + dx) + 1 : 1;
      store<i32>(down + dx, dn);
      const ru = load<u8>(rowUniform + i);
      const dr = ru ? (last ? 0 : load<i32>(downRow + dx)) + 1 : 0;
      store<i32>(downRow + dx, dr);
      const uniform =
        load<i32>(left + (i << 2)) >= need && dn >= need && load<i32>(upRow + (i << 2)) >= need && dr >= need;
      store<u8>(band + i, <u8>!uniform);
    }
  }
}

export function band_u8(l: usize, H: i32, W: i32, d: i32, b: usize, ru: usize, lf: usize, ur: usize, dn: usize, dr: usize): void {
  boundaryBand<u8>(l, H, W, d, b, ru, lf, ur, dn, dr);
}
export function band_u16(l: usize, H: i32, W: i32, d: i32, b: usize, ru: usize, lf: usize, ur: usize, dn: usize, dr: usize): void {
  boundaryBand<u16>(l, H, W, d, b, ru, lf, ur, dn, dr);
}
export function band_i32(l: usize, H: i32, W: i32, d: i32, b: usize, ru: usize, lf: usize, ur: usize, dn: usize, dr: usize): void {
  boundaryBand<i32>(l, H, W, d, b, ru, lf, ur, dn, dr);
}
export function band_f32(l: usize, H: i32, W: i32, d: i32, b: usize, ru: usize, lf: usize, ur: usize, dn: usize, dr: usize): void {
  boundaryBand<f32>(l, H, W, d, b, ru, lf, ur, dn, dr);
}
