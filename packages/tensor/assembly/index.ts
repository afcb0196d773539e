// WebAssembly SIMD kernels of @lab/tensor, compiled by lab-asc (AssemblyScript, --runtime stub).
// Conventions shared by every package's kernels:
//   - arguments are byte offsets into memory (usize) and sizes (i32); arrays are row-major float32;
//   - kernels that the worker pool may split take (part, parts) last and touch only their share;
//   - no static data and no allocation: the caller (TypeScript) owns all memory.

/**
 * Packs B [k, n] into column panels of 8: panel p holds B[:, 8p : 8p+8] as k rows of 8 floats, zero-padded
 * past column n. `bp` needs ceil(n / 8) · 8 · k floats. Split over panels.
 */
export function matmul_pack_b(b: usize, bp: usize, k: i32, n: i32, part: i32, parts: i32): void {
  const panels = (n + 7) >> 3;
  const start = (panels * part) / parts;
  const end = (panels * (part + 1)) / parts;
  for (let p = start; p < end; p++) {
    const j0 = p << 3;
    const width = min(8, n - j0);
    let dst = bp + (<usize>p * <usize>k * 8) * 4;
    for (let kk = 0; kk < k; kk++) {
      const src = b + (<usize>kk * <usize>n + <usize>j0) * 4;
      if (width == 8) {
        v128.store(dst, v128.load(src));
        v128.store(dst, v128.load(src, 16), 16);
      } else {
        for (let j = 0; j < 8; j++) store<f32>(dst + j * 4, j < width ? load<f32>(src + j * 4) : 0);
      }
      dst += 32;
    }
  }
}

/**
 * C [m, n] = A [m, k] · B [k, n], with B packed by matmul_pack_b. A 4 × 8 register block: eight f32x4
 * accumulators, one splat of A and two loads of B per multiply-add pair. Split over blocks of 4 rows.
 * With accumulate = 1, adds into C instead of overwriting it.
 */
export function matmul_packed(
  a: usize,
  bp: usize,
  c: usize,
  m: i32,
  k: i32,
  n: i32,
  accumulate: i32,
  part: i32,
  parts: i32,
): void {
  const rowBlocks = (m + 3) >> 2;
  const start = (rowBlocks * part) / parts;
  const end = (rowBlocks * (part + 1)) / parts;
  const panels = (n + 7) >> 3;
  const rowBytes = <usize>k * 4;
  for (let rb = start; rb < end; rb++) {
    const i0 = rb << 2;
    const rows = min(4, m - i0);
    // Rows past m read row i0 again (valid memory) and are never stored.
    const a0 = a + <usize>i0 * rowBytes;
    const a1 = rows > 1 ? a0 + rowBytes : a0;
    const a2 = rows > 2 ? a0 + 2 * rowBytes : a0;
    const a3 = rows > 3 ? a0 + 3 * rowBytes : a0;
    for (let p = 0; p < panels; p++) {
      let acc00 = f32x4.splat(0);
      let acc01 = f32x4.splat(0);
      let acc10 = f32x4.splat(0);
      let acc11 = f32x4.splat(0);
      let acc20 = f32x4.splat(0);
      let acc21 = f32x4.splat(0);
      let acc30 = f32x4.splat(0);
      let acc31 = f32x4.splat(0);
      let bptr = bp + (<usize>p * <usize>k * 8) * 4;
      for (let kk = 0; kk < k; kk++) {
        const b0 = v128.load(bptr);
        const b1 = v128.load(bptr, 16);
        const off = <usize>kk * 4;
        const x0 = f32x4.splat(load<f32>(a0 + off));
        const x1 = f32x4.splat(load<f32>(a1 + off));
        const x2 = f32x4.splat(load<f32>(a2 + off));
        const x3 = f32x4.splat(load<f32>(a3 + off));
        acc00 = f32x4.add(acc00, f32x4.mul(x0, b0));
        acc01 = f32x4.add(acc01, f32x4.mul(x0, b1));
        acc10 = f32x4.add(acc10, f32x4.mul(x1, b0));
        acc11 = f32x4.add(acc11, f32x4.mul(x1, b1));
        acc20 = f32x4.add(acc20, f32x4.mul(x2, b0));
        acc21 = f32x4.add(acc21, f32x4.mul(x2, b1));
        acc30 = f32x4.add(acc30, f32x4.mul(x3, b0));
        acc31 = f32x4.add(acc31, f32x4.mul(x3, b1));
        bptr += 32;
      }
      const j0 = p << 3;
      const width = min(8, n - j0);
      storeRow(c + (<usize>i0 * <usize>n + <usize>j0) * 4, acc00, acc01, width, accumulate);
      if (rows > 1) storeRow(c + (<usize>(i0 + 1) * <usize>n + <usize>j0) * 4, acc10, acc11, width, accumulate);
      if (rows > 2) storeRow(c + (<usize>(i0 + 2) * <usize>n + <usize>j0) * 4, acc20, acc21, width, accumulate);
      if (rows > 3) storeRow(c + (<usize>(i0 + 3) * <usize>n + <usize>j0) * 4, acc30, acc31, width, accumulate);
    }
  }
}

@inline
function storeRow(dst: usize, lo: v128, hi: v128, width: i32, accumulate: i32): void {
  if (width == 8) {
    if (accumulate) {
      lo = f32x4.add(lo, v128.load(dst));
      hi = f32x4.add(hi, v128.load(dst, 16));
    }
    v128.store(dst, lo);
    v128.store(dst, hi, 16);
    return;
  }
  for (let j = 0; j < width; j++) {
    let v: f32 = j < 4 ? laneOf(lo, j) : laneOf(hi, j - 4);
    if (accumulate) v += load<f32>(dst + j * 4);
    store<f32>(dst + j * 4, v);
  }
}

@inline
function laneOf(v: v128, j: i32): f32 {
  if (j == 0) return f32x4.extract_lane(v, 0);
  if (j == 1) return f32x4.extract_lane(v, 1);
  if (j == 2) return f32x4.extract_lane(v, 2);
  return f32x4.extract_lane(v, 3);
}

/** y[i] += alpha · x[i] over n floats (axpy). Split over contiguous ranges (multiples of 4). */
export function axpy(alpha: f32, x: usize, y: usize, n: i32, part: i32, parts: i32): void {
  const quads = n >> 2;
  const start = (quads * part) / parts;
  const end = (quads * (part + 1)) / parts;
  const va = f32x4.splat(alpha);
  for (let q = start; q < end; q++) {
    const off = <usize>q << 4;
    v128.store(y + off, f32x4.add(v128.load(y + off), f32x4.mul(va, v128.load(x + off))));
  }
  if (part == parts - 1) {
    for (let i = quads << 2; i < n; i++) {
      const off = <usize>i << 2;
      store<f32>(y + off, load<f32>(y + off) + alpha * load<f32>(x + off));
    }
  }
}
