/**
 * Host kernels for C = A · B on float32 arrays: the WebAssembly SIMD kernel (packed 4 × 8 register blocks,
 * split over row blocks on the worker pool) and the plain TypeScript fallback.
 */
import { pool } from '../pool.js';
import { useWasmKernels } from '../wasm.js';
import { tensorKernels } from './module.js';

/** Rows of A per part when splitting across threads (a multiple of the 4-row register block). */
const ROWS_PER_PART = 32;

/** C [m, n] = A [m, k] · B [k, n], all row-major, with the WebAssembly kernel. */
export function matmulWasm(a: Float32Array, b: Float32Array, m: number, k: number, n: number): Float32Array {
  return tensorKernels.withArena((arena) => {
    const pa = arena.write(a);
    const pb = arena.write(b);
    const panels = Math.ceil(n / 8);
    const pbp = arena.allocF32(panels * 8 * k);
    const pc = arena.allocF32(m * n);
    const threads = pool.active ? pool.threads : 1;
    tensorKernels.run('matmul_pack_b', [pb, pbp, k, n], Math.min(panels, threads));
    const parts = Math.max(1, Math.min(Math.ceil(m / ROWS_PER_PART), 4 * threads));
    tensorKernels.run('matmul_packed', [pa, pbp, pc, m, k, n, 0], parts);
    return arena.readF32(pc, m * n);
  });
}

/**
 * C [m, n] = A [m, k] · B [k, n] in plain TypeScript. Same float32 operations in the same order as the SIMD
 * kernel (per output: c += a[i,k]·b[k,j] for k ascending), so both give bit-identical results.
 */
export function matmulFallback(a: Float32Array, b: Float32Array, m: number, k: number, n: number): Float32Array {
  const c = new Float32Array(m * n);
  for (let i = 0; i < m; i++) {
    const row = i * n;
    for (let kk = 0; kk < k; kk++) {
      const x = a[i * k + kk]!;
      const brow = kk * n;
      for (let j = 0; j < n; j++) c[row + j] = Math.fround(c[row + j]! + Math.fround(x * b[brow + j]!));
    }
  }
  return c;
}

/** C = A · B on the best host path available (WebAssembly SIMD, else the fallback). */
export function matmulHost(a: Float32Array, b: Float32Array, m: number, k: number, n: number): Float32Array {
  return useWasmKernels() ? matmulWasm(a, b, m, k, n) : matmulFallback(a, b, m, k, n);
}

/** Transposes a row-major [rows, cols] array. */
export function transposeHost(x: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = x[i * cols + j]!;
  return out;
}
