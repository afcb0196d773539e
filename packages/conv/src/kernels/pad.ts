import type { Arena } from '@lab/tensor';

/**
 * Writes x [n, h, w, c] into fresh arena memory as the padded/cropped input [n, hp, wp, cOut] that a
 * convolution reads: row r, column q hold x[r − top, q − left] (zero outside x), channels zero-padded from c to
 * cOut. Returns the byte offset.
 */
export function writePaddedInput(
  arena: Arena,
  x: Float32Array,
  shape: readonly number[],
  hp: number,
  wp: number,
  top: number,
  left: number,
  cOut: number,
): number {
  const [n, h, w, c] = shape as [number, number, number, number];
  const ptr = arena.allocF32(n * hp * wp * cOut);
  const xp = arena.f32(ptr, n * hp * wp * cOut);
  xp.fill(0);
  const q0 = Math.max(0, left);
  const q1 = Math.min(wp, w + left); // padded columns q with 0 <= q − left < w
  if (q1 <= q0) return ptr;
  for (let b = 0; b < n; b++) {
    for (let r = 0; r < hp; r++) {
      const src = r - top;
      if (src < 0 || src >= h) continue;
      const srcRow = (b * h + src) * w;
      const dstRow = (b * hp + r) * wp;
      if (cOut === c) {
        xp.set(x.subarray((srcRow + q0 - left) * c, (srcRow + q1 - left) * c), (dstRow + q0) * c);
      } else {
        for (let q = q0; q < q1; q++) {
          xp.set(x.subarray((srcRow + q - left) * c, (srcRow + q - left + 1) * c), (dstRow + q) * cOut);
        }
      }
    }
  }
  return ptr;
}

/** Copies rows of `width` floats into fresh arena memory with rows of `stride` floats (zero-padded). */
export function writePaddedRows(
  arena: Arena,
  data: Float32Array,
  rows: number,
  width: number,
  stride: number,
): number {
  if (stride === width) return arena.write(data);
  const ptr = arena.allocF32(rows * stride);
  const view = arena.f32(ptr, rows * stride);
  view.fill(0);
  for (let r = 0; r < rows; r++) view.set(data.subarray(r * width, (r + 1) * width), r * stride);
  return ptr;
}

/** Reads rows of `stride` floats from arena memory, keeping the first `width` of each. */
export function readPaddedRows(
  arena: Arena,
  ptr: number,
  rows: number,
  width: number,
  stride: number,
): Float32Array {
  if (stride === width) return arena.readF32(ptr, rows * width);
  const view = arena.f32(ptr, rows * stride);
  const out = new Float32Array(rows * width);
  for (let r = 0; r < rows; r++) out.set(view.subarray(r * stride, r * stride + width), r * width);
  return out;
}
