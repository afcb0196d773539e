/**
 * Host entry points of the selective scan kernels (Gu & Dao 2023, Algorithm 2): the WebAssembly SIMD kernels
 * of assembly/index.ts where SIMD is available, else the TypeScript fallback. This file converts between the
 * op's layouts and the kernels' (channels padded to a multiple of 4, Aᵀ and fixed Bᵀ, Cᵀ as [N, Dp], blocked
 * states) and sums the kernels' partial gradients.
 */
import { threadCount, useWasmKernels } from '@lab/tensor';
import {
  type ScanFlags,
  type ScanHostGrads,
  type ScanHostInputs,
  type ScanHostOutputs,
  scanBackwardFallback,
  scanForwardFallback,
} from './scan-fallback.js';
import { constantTable } from './constants.js';
import { kernels } from './module.js';

const TABLE = constantTable();

let threadLimit = Number.POSITIVE_INFINITY;

/** Caps the threads the scan kernels split over (for benchmarks: 1 = single thread with the pool running). */
export function setScanThreadLimit(limit: number): void {
  threadLimit = limit >= 1 ? limit : Number.POSITIVE_INFINITY;
}

function threads(): number {
  return Math.min(threadCount(), threadLimit);
}

function flagBits(f: ScanFlags, hasZ: boolean): number {
  return (f.deltaSoftplus ? 1 : 0) | (f.variableB ? 2 : 0) | (f.variableC ? 4 : 0) | (hasZ ? 8 : 0);
}

type Arena = Parameters<Parameters<typeof kernels.withArena>[0]>[0];

/**
 * Writes a [batch, rows, cols] array into the module transposed to [batch, cols, dstStride] (dstStride ≥ rows,
 * the padding zeroed), with the WebAssembly transpose kernel. Returns the byte offset.
 */
function writeTransposed(arena: Arena, data: Float32Array, batch: number, rows: number, cols: number, dstStride: number): number {
  const src = arena.write(data);
  const dst = arena.allocF32(batch * cols * dstStride);
  if (dstStride !== rows) arena.fillF32(dst, batch * cols * dstStride, 0);
  const parts = Math.max(1, threads() > 1 ? Math.min(batch * Math.ceil(rows / 8), 4 * threads()) : 1);
  kernels.run('transpose', [src, dst, batch, rows, cols, cols, dstStride, rows * cols, cols * dstStride], parts);
  return dst;
}

/** Reads [batch, rows, srcStride] (first `cols` of each row) back transposed to [batch, cols, rows]. */
function readTransposed(arena: Arena, ptr: number, batch: number, rows: number, cols: number, srcStride: number): Float32Array {
  const dst = arena.allocF32(batch * rows * cols);
  const parts = Math.max(1, threads() > 1 ? Math.min(batch * Math.ceil(rows / 8), 4 * threads()) : 1);
  kernels.run('transpose', [ptr, dst, batch, rows, cols, srcStride, rows, rows * srcStride, cols * rows], parts);
  return arena.readF32(dst, batch * rows * cols);
}

/** [rows, N] → [rows, Np] (zero-padded), scaled by `scale`; the same array when nothing changes. */
function padColumns(x: Float32Array, rows: number, N: number, np: number, scale = 1): Float32Array {
  if (np === N && scale === 1) return x;
  const out = new Float32Array(rows * np);
  for (let r = 0; r < rows; r++) for (let n = 0; n < N; n++) out[r * np + n] = x[r * N + n]! * scale;
  return out;
}

/** B or C in the kernels' layout: input-dependent [Bt, N, L] → [Bt, L, Np]; fixed [D, N] → [D, Np]. */
function writeBC(arena: Arena, a: Float32Array, variable: boolean, f: ScanFlags, np: number): number {
  const { batch, dim, length: L, dState: N } = f;
  return variable ? writeTransposed(arena, a, batch, N, L, np) : arena.write(padColumns(a, dim, N, np));
}

/** n zeros in the module. */
function writeZeros(arena: Arena, n: number): number {
  const p = arena.allocF32(n);
  arena.fillF32(p, n, 0);
  return p;
}

/** Bytes of u, delta and z rows per chunk of the single-thread forward (a few rows each: well inside L2). */
const CHUNK_BYTES = 128 * 1024;

/** How many chunks the single-thread forward splits the row pairs into (at least 1, at most one per pair). */
export function forwardChunks(f: ScanFlags): number {
  const items = f.batch * ((f.dim + 1) >> 1);
  return Math.max(1, Math.min(items, Math.round((3 * f.batch * f.dim * f.length * 4) / CHUNK_BYTES)));
}

/**
 * out [Bt, D, L] and lastState [Bt, D, N] with the WebAssembly kernel (rows of the op's own layout, states
 * vectorised; see scan_fwd in assembly/index.ts). A is passed as A·log₂e for the kernel's 2^x.
 *
 * On one thread the kernel runs over chunks of row pairs, and u, delta and z are copied into its memory one
 * chunk ahead of it: each chunk's rows are still in cache when the kernel reads them, instead of the whole
 * [Bt, D, L] arrays passing through memory twice (measured here: 15.8 → 14.6 ms of kernel time at
 * Bt = 2, D = 512, L = 1024). The worker pool gets everything at once and splits the pairs itself.
 */
export function scanForwardWasm(x: ScanHostInputs, f: ScanFlags): ScanHostOutputs {
  const { batch, dim, length: L, dState: N } = f;
  const np = Math.ceil(N / 4) * 4;
  return kernels.withArena((arena) => {
    const rows = batch * dim;
    const pooled = threads() > 1;
    const parts = pooled ? Math.min(rows, 8 * threads()) : 1;
    const scratchBytes = kernels.exports.scan_fwd_scratch_bytes(L);
    const state = x.initialState ? arena.write(padColumns(x.initialState, rows, N, np)) : writeZeros(arena, rows * np);
    const pout = arena.allocF32(rows * L);
    const streams = [x.u, x.delta, x.z];
    const ptrs = streams.map((a) => (a ? (pooled ? arena.write(a) : arena.allocF32(a.length)) : arena.allocF32(4)));
    const args = [
      arena.write(TABLE),
      ptrs[0]!,
      ptrs[1]!,
      ptrs[2]!,
      arena.write(padColumns(x.A, dim, N, np, Math.LOG2E)),
      writeBC(arena, x.B, f.variableB, f, np),
      writeBC(arena, x.C, f.variableC, f, np),
      x.D ? arena.write(x.D) : writeZeros(arena, dim),
      x.deltaBias ? arena.write(x.deltaBias) : writeZeros(arena, dim),
      state,
      pout,
      arena.alloc(parts * scratchBytes),
    ];
    const flags = flagBits(f, !!x.z);
    if (pooled) {
      kernels.run('scan_fwd', [...args, scratchBytes, batch, dim, L, np, flags], parts);
    } else {
      // Chunks of whole row pairs (scan_fwd's items), in the kernel's own split: part p of P covers items
      // [⌊items·p/P⌋, ⌊items·(p+1)/P⌋), which are the rows [rowOf(start), rowOf(end)). Every chunk shares one
      // scratch (scratchBytes 0).
      const pairs = (dim + 1) >> 1;
      const items = batch * pairs;
      const chunks = forwardChunks(f);
      const rowOf = (item: number) => Math.floor(item / pairs) * dim + 2 * (item % pairs);
      const run = kernels.exports.scan_fwd as (...a: number[]) => void;
      const heap = () => new Float32Array(kernels.memory.buffer);
      for (let p = 0; p < chunks; p++) {
        const lo = rowOf(Math.floor((items * p) / chunks)) * L;
        const hi = rowOf(Math.floor((items * (p + 1)) / chunks)) * L;
        const view = heap();
        streams.forEach((a, i) => {
          if (a) view.set(a.subarray(lo, hi), ptrs[i]! / 4 + lo);
        });
        run(...args, 0, batch, dim, L, np, flags, p, chunks);
      }
    }
    const last = arena.readF32(state, rows * np);
    // out stays in the module's memory: the caller uploads it before the next kernel call (one copy, not two).
    return { out: arena.f32(pout, rows * L), lastState: np === N ? last : unpadColumns(last, rows, N, np), borrowed: true };
  });
}

/** [rows, Np] → [rows, N]. */
function unpadColumns(x: Float32Array, rows: number, N: number, np: number): Float32Array {
  const out = new Float32Array(rows * N);
  for (let r = 0; r < rows; r++) for (let n = 0; n < N; n++) out[r * N + n] = x[r * np + n]!;
  return out;
}

/**
 * The gradients of the scan for upstream dout [Bt, D, L], with the WebAssembly backward kernel (rows in the op's
 * layout; states recomputed per row, adjoint in reverse; see scan_bwd). Per-batch and per-part partial sums are
 * added here in a fixed order.
 */
export function scanBackwardWasm(x: ScanHostInputs, dout: Float32Array, f: ScanFlags): ScanHostGrads {
  const { batch, dim, length: L, dState: N } = f;
  const np = Math.ceil(N / 4) * 4;
  return kernels.withArena((arena) => {
    const rows = batch * dim;
    const parts = Math.max(1, threads() > 1 ? Math.min(rows, 8 * threads()) : 1);
    const scratchBytes = kernels.exports.scan_bwd_scratch_bytes(L, np);
    const size = rows * L;
    const pdu = arena.allocF32(size);
    const pddelta = arena.allocF32(size);
    const pdz = arena.allocF32(x.z ? size : 4);
    const pdA = arena.allocF32(rows * np);
    const partSize = batch * L * np;
    const pdB = arena.allocF32(f.variableB ? parts * partSize : rows * np);
    const pdC = arena.allocF32(f.variableC ? parts * partSize : rows * np);
    const pdD = arena.allocF32(rows);
    const pdBias = arena.allocF32(rows);
    const pdState = arena.allocF32(rows * np);
    kernels.run(
      'scan_bwd',
      [
        arena.write(TABLE),
        arena.write(x.u),
        arena.write(x.delta),
        x.z ? arena.write(x.z) : arena.allocF32(4),
        arena.write(padColumns(x.A, dim, N, np)),
        arena.write(padColumns(x.A, dim, N, np, Math.LOG2E)),
        writeBC(arena, x.B, f.variableB, f, np),
        writeBC(arena, x.C, f.variableC, f, np),
        x.D ? arena.write(x.D) : writeZeros(arena, dim),
        x.deltaBias ? arena.write(x.deltaBias) : writeZeros(arena, dim),
        x.initialState ? arena.write(padColumns(x.initialState, rows, N, np)) : writeZeros(arena, rows * np),
        arena.write(dout),
        pdu,
        pddelta,
        pdz,
        pdA,
        pdB,
        pdC,
        pdD,
        pdBias,
        pdState,
        arena.alloc(parts * scratchBytes),
        scratchBytes,
        batch,
        dim,
        L,
        np,
        flagBits(f, !!x.z),
      ],
      parts,
    );
    /** [Bt, D, Np] → Σ over batch → [D, N]. */
    const sumBatchStates = (ptr: number): Float32Array => {
      const part = arena.f32(ptr, rows * np);
      const out = new Float32Array(dim * N);
      for (let b = 0; b < batch; b++) {
        for (let d = 0; d < dim; d++) for (let n = 0; n < N; n++) out[d * N + n]! += part[(b * dim + d) * np + n]!;
      }
      return out;
    };
    /** [parts, Bt, L, Np] → Σ over parts → [Bt, N, L]. */
    const sumParts = (ptr: number): Float32Array => {
      const all = arena.f32(ptr, parts * partSize);
      for (let p = 1; p < parts; p++) for (let i = 0; i < partSize; i++) all[i]! += all[p * partSize + i]!;
      return readTransposed(arena, ptr, batch, L, N, np);
    };
    /** [Bt, D] → Σ over batch → [D]. */
    const sumBatch = (ptr: number): Float32Array => {
      const part = arena.f32(ptr, rows);
      const out = new Float32Array(dim);
      for (let b = 0; b < batch; b++) for (let d = 0; d < dim; d++) out[d]! += part[b * dim + d]!;
      return out;
    };
    const state = arena.readF32(pdState, rows * np);
    // Everything that allocates comes first (a growing memory would detach earlier views): the summed
    // gradients are copies, and the three [Bt, D, L] ones stay in the module's memory, as views the caller
    // uploads before the next kernel call.
    const A = sumBatchStates(pdA);
    const B = f.variableB ? sumParts(pdB) : sumBatchStates(pdB);
    const C = f.variableC ? sumParts(pdC) : sumBatchStates(pdC);
    return {
      A,
      B,
      C,
      D: x.D ? sumBatch(pdD) : undefined,
      deltaBias: x.deltaBias ? sumBatch(pdBias) : undefined,
      initialState: x.initialState ? (np === N ? state : unpadColumns(state, rows, N, np)) : undefined,
      u: arena.f32(pdu, size),
      delta: arena.f32(pddelta, size),
      z: x.z ? arena.f32(pdz, size) : undefined,
      borrowed: true,
    };
  });
}

/** Forward on the best host path (WebAssembly SIMD, else the TypeScript fallback). */
export function scanForwardHost(x: ScanHostInputs, f: ScanFlags): ScanHostOutputs {
  return useWasmKernels() ? scanForwardWasm(x, f) : scanForwardFallback(x, f);
}

/** Backward on the best host path. */
export function scanBackwardHost(x: ScanHostInputs, dout: Float32Array, f: ScanFlags): ScanHostGrads {
  return useWasmKernels() ? scanBackwardWasm(x, dout, f) : scanBackwardFallback(x, dout, f);
}
