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

/** [D, N] → [N, Dp] (zero-padded). */
function transposePad(x: Float32Array, dim: number, N: number, dp: number): Float32Array {
  const out = new Float32Array(N * dp);
  for (let d = 0; d < dim; d++) for (let n = 0; n < N; n++) out[n * dp + d] = x[d * N + n]!;
  return out;
}

/** [Bt, D, N] → blocked [Bt, Dp/4, N, 4]. */
function blockState(x: Float32Array | undefined, batch: number, dim: number, N: number, dp: number): Float32Array {
  const out = new Float32Array(batch * dp * N);
  if (!x) return out;
  for (let b = 0; b < batch; b++) {
    for (let d = 0; d < dim; d++) {
      const blk = d >> 2;
      const lane = d & 3;
      for (let n = 0; n < N; n++) out[((b * (dp >> 2) + blk) * N + n) * 4 + lane] = x[(b * dim + d) * N + n]!;
    }
  }
  return out;
}

/** Blocked [Bt, Dp/4, N, 4] → [Bt, D, N]. */
function unblockState(x: Float32Array, batch: number, dim: number, N: number, dp: number): Float32Array {
  const out = new Float32Array(batch * dim * N);
  for (let b = 0; b < batch; b++) {
    for (let d = 0; d < dim; d++) {
      const blk = d >> 2;
      const lane = d & 3;
      for (let n = 0; n < N; n++) out[(b * dim + d) * N + n] = x[((b * (dp >> 2) + blk) * N + n) * 4 + lane]!;
    }
  }
  return out;
}

function padVector(x: Float32Array | undefined, dim: number, dp: number): Float32Array {
  const out = new Float32Array(dp);
  if (x) out.set(x.subarray(0, dim));
  return out;
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

/** Writes the operands in the kernels' layouts (see assembly/index.ts) and returns their offsets. */
function writeOperands(arena: Arena, x: ScanHostInputs, f: ScanFlags) {
  const { batch, dim, length: L, dState: N } = f;
  const dp = Math.ceil(dim / 4) * 4;
  const rows = (a: Float32Array) => writeTransposed(arena, a, batch, dim, L, dp); // [Bt, D, L] → [Bt, L, Dp]
  const bc = (a: Float32Array, variable: boolean) =>
    variable ? writeTransposed(arena, a, batch, N, L, N) : arena.write(transposePad(a, dim, N, dp));
  return {
    dp,
    u: rows(x.u),
    delta: rows(x.delta),
    z: x.z ? rows(x.z) : arena.allocF32(4),
    At: arena.write(transposePad(x.A, dim, N, dp)),
    B: bc(x.B, f.variableB),
    C: bc(x.C, f.variableC),
    Dv: arena.write(padVector(x.D, dim, dp)),
    bias: arena.write(padVector(x.deltaBias, dim, dp)),
    state: arena.write(blockState(x.initialState, batch, dim, N, dp)),
  };
}

/** [rows, N] → [rows, Np] (zero-padded), scaled by `scale`; the same array when nothing changes. */
function padColumns(x: Float32Array, rows: number, N: number, np: number, scale = 1): Float32Array {
  if (np === N && scale === 1) return x;
  const out = new Float32Array(rows * np);
  for (let r = 0; r < rows; r++) for (let n = 0; n < N; n++) out[r * np + n] = x[r * N + n]! * scale;
  return out;
}

/**
 * out [Bt, D, L] and lastState [Bt, D, N] with the WebAssembly kernel (rows of the op's own layout, states
 * vectorised; see scan_fwd in assembly/index.ts). A is passed as A·log₂e for the kernel's 2^x.
 */
export function scanForwardWasm(x: ScanHostInputs, f: ScanFlags): { out: Float32Array; lastState: Float32Array } {
  const { batch, dim, length: L, dState: N } = f;
  const np = Math.ceil(N / 4) * 4;
  return kernels.withArena((arena) => {
    const rows = batch * dim;
    const parts = Math.max(1, threads() > 1 ? Math.min(rows, 8 * threads()) : 1);
    const scratchBytes = kernels.exports.scan_fwd_scratch_bytes(L);
    const bc = (a: Float32Array, variable: boolean) =>
      variable ? writeTransposed(arena, a, batch, N, L, np) : arena.write(padColumns(a, dim, N, np));
    const zeros = (n: number) => {
      const p = arena.allocF32(n);
      arena.fillF32(p, n, 0);
      return p;
    };
    const state = x.initialState ? arena.write(padColumns(x.initialState, rows, N, np)) : zeros(rows * np);
    const pout = arena.allocF32(rows * L);
    const args = [
      arena.write(TABLE),
      arena.write(x.u),
      arena.write(x.delta),
      x.z ? arena.write(x.z) : arena.allocF32(4),
      arena.write(padColumns(x.A, dim, N, np, Math.LOG2E)),
      bc(x.B, f.variableB),
      bc(x.C, f.variableC),
      x.D ? arena.write(x.D) : zeros(dim),
      x.deltaBias ? arena.write(x.deltaBias) : zeros(dim),
      state,
      pout,
      arena.alloc(parts * scratchBytes),
      scratchBytes,
      batch,
      dim,
      L,
      np,
      flagBits(f, !!x.z),
    ];
    kernels.run('scan_fwd', args, parts);
    const last = arena.readF32(state, rows * np);
    return { out: arena.readF32(pout, rows * L), lastState: np === N ? last : unpadColumns(last, rows, N, np) };
  });
}

/** [rows, Np] → [rows, N]. */
function unpadColumns(x: Float32Array, rows: number, N: number, np: number): Float32Array {
  const out = new Float32Array(rows * N);
  for (let r = 0; r < rows; r++) for (let n = 0; n < N; n++) out[r * N + n] = x[r * np + n]!;
  return out;
}

/** The gradients of the scan for upstream dout [Bt, D, L], with the WebAssembly backward kernel. */
export function scanBackwardWasm(x: ScanHostInputs, dout: Float32Array, f: ScanFlags): ScanHostGrads {
  const { batch, dim, length: L, dState: N } = f;
  const flags = flagBits(f, !!x.z);
  return kernels.withArena((arena) => {
    const p = writeOperands(arena, x, f);
    const blocks = p.dp / 4;
    const groups = Math.max(1, Math.min(blocks, Math.ceil((2 * threads()) / batch)));
    const parts = batch * groups;
    const scratchBytes = kernels.exports.scan_bwd_scratch_bytes(L, N, flags);
    const rows = batch * p.dp * L;
    const pdout = writeTransposed(arena, dout, batch, dim, L, p.dp);
    const pdu = arena.allocF32(rows);
    const pddelta = arena.allocF32(rows);
    const pdz = arena.allocF32(x.z ? rows : 4);
    const pdA = arena.allocF32(batch * N * p.dp);
    const bPartSize = f.variableB ? groups * batch * N * L : batch * N * p.dp;
    const cPartSize = f.variableC ? groups * batch * N * L : batch * N * p.dp;
    const pdB = arena.allocF32(bPartSize);
    const pdC = arena.allocF32(cPartSize);
    const pdD = arena.allocF32(batch * p.dp);
    const pdBias = arena.allocF32(batch * p.dp);
    const pdState = arena.allocF32(batch * p.dp * N);
    const pscratch = arena.alloc(parts * scratchBytes);
    kernels.run(
      'scan_bwd',
      [
        arena.write(TABLE),
        p.u,
        p.delta,
        p.z,
        p.At,
        p.B,
        p.C,
        p.Dv,
        p.bias,
        p.state,
        pdout,
        pdu,
        pddelta,
        pdz,
        pdA,
        pdB,
        pdC,
        pdD,
        pdBias,
        pdState,
        pscratch,
        scratchBytes,
        batch,
        p.dp,
        L,
        N,
        flags,
        groups,
      ],
      parts,
    );
    // Sum the partials: over batch for [Bt, N, Dp] → [D, N]; over groups for [groups, Bt, L, N].
    const sumTransposed = (ptr: number): Float32Array => {
      const part = arena.f32(ptr, batch * N * p.dp);
      const out = new Float32Array(dim * N);
      for (let b = 0; b < batch; b++) {
        for (let n = 0; n < N; n++) for (let d = 0; d < dim; d++) out[d * N + n]! += part[(b * N + n) * p.dp + d]!;
      }
      return out;
    };
    const sumGroups = (ptr: number): Float32Array => {
      const size = batch * N * L;
      const part = arena.f32(ptr, groups * size);
      for (let g = 1; g < groups; g++) for (let i = 0; i < size; i++) part[i]! += part[g * size + i]!;
      return readTransposed(arena, ptr, batch, L, N, N); // [Bt, L, N] → [Bt, N, L]
    };
    const sumBatch = (ptr: number): Float32Array => {
      const part = arena.f32(ptr, batch * p.dp);
      const out = new Float32Array(dim);
      for (let b = 0; b < batch; b++) for (let d = 0; d < dim; d++) out[d]! += part[b * p.dp + d]!;
      return out;
    };
    const gradRows = (ptr: number) => readTransposed(arena, ptr, batch, L, dim, p.dp);
    return {
      u: gradRows(pdu),
      delta: gradRows(pddelta),
      z: x.z ? gradRows(pdz) : undefined,
      A: sumTransposed(pdA),
      B: f.variableB ? sumGroups(pdB) : sumTransposed(pdB),
      C: f.variableC ? sumGroups(pdC) : sumTransposed(pdC),
      D: x.D ? sumBatch(pdD) : undefined,
      deltaBias: x.deltaBias ? sumBatch(pdBias) : undefined,
      initialState: x.initialState ? unblockState(arena.readF32(pdState, batch * p.dp * N), batch, dim, N, p.dp) : undefined,
    };
  });
}

/** Forward on the best host path (WebAssembly SIMD, else the TypeScript fallback). */
export function scanForwardHost(x: ScanHostInputs, f: ScanFlags): { out: Float32Array; lastState: Float32Array } {
  return useWasmKernels() ? scanForwardWasm(x, f) : scanForwardFallback(x, f);
}

/** Backward on the best host path. */
export function scanBackwardHost(x: ScanHostInputs, dout: Float32Array, f: ScanFlags): ScanHostGrads {
  return useWasmKernels() ? scanBackwardWasm(x, dout, f) : scanBackwardFallback(x, dout, f);
}
