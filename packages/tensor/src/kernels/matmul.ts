/**
 * Host kernels for C = A · B on float32 arrays: the WebAssembly SIMD kernel (packed 4 × 8 register blocks,
 * split over row blocks on the worker pool) and the plain TypeScript fallback.
 */
import { ValueError } from '../errors.js';
import { pool } from '../pool.js';
import { type ResidentBlock, useWasmKernels } from '../wasm.js';
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

/**
 * B [k, n] packed once for many products A · B (a layer's weights in token-by-token decoding): the SIMD
 * kernel's panels live in a resident block of the kernel module, so a product copies only A in and C out,
 * where matmulHost copies and packs all of B every time. Keeps `b` itself for the TypeScript fallback.
 * Call dispose() to give the memory back.
 */
export class PackedMatrix {
  private block: ResidentBlock | undefined;

  constructor(
    readonly b: Float32Array,
    readonly k: number,
    readonly n: number,
  ) {
    if (b.length !== k * n) throw new ValueError(`packMatrix: b has ${b.length} values, expected k·n = ${k * n}`);
  }

  /** The resident packed panels (packed on first use on the WebAssembly path). */
  panels(): number {
    if (!this.block) {
      const { k, n } = this;
      const panels = Math.ceil(n / 8);
      const block = tensorKernels.resident(panels * 8 * k * 4);
      try {
        tensorKernels.withArena((arena) => {
          const pb = arena.write(this.b);
          const threads = pool.active ? pool.threads : 1;
          tensorKernels.run('matmul_pack_b', [pb, block.ptr, k, n], Math.min(panels, threads));
        });
      } catch (error) {
        block.release();
        throw error;
      }
      this.block = block;
    }
    return this.block.ptr;
  }

  /** Releases the packed copy (a later product packs again). */
  dispose(): void {
    this.block?.release();
    this.block = undefined;
  }
}

/** Packs B [k, n] (row-major) for repeated products with {@link matmulPacked}. */
export function packMatrix(b: Float32Array, k: number, n: number): PackedMatrix {
  return new PackedMatrix(b, k, n);
}

/** C [m, n] = A [m, k] · B with B packed by {@link packMatrix}: bit-identical to matmulHost(a, b, m, k, n). */
export function matmulPacked(a: Float32Array, b: PackedMatrix, m: number): Float32Array {
  const { k, n } = b;
  if (a.length !== m * k) throw new ValueError(`matmulPacked: a has ${a.length} values, expected m·k = ${m * k}`);
  if (!useWasmKernels()) return matmulFallback(a, b.b, m, k, n);
  const pbp = b.panels();
  return tensorKernels.withArena((arena) => {
    const pa = arena.write(a);
    const pc = arena.allocF32(m * n);
    const threads = pool.active ? pool.threads : 1;
    const parts = Math.max(1, Math.min(Math.ceil(m / ROWS_PER_PART), 4 * threads));
    tensorKernels.run('matmul_packed', [pa, pbp, pc, m, k, n, 0], parts);
    return arena.readF32(pc, m * n);
  });
}
