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
import { kernels } from './module.js';

function flagBits(f: ScanFlags, hasZ: boolean): number {
  return (f.deltaSoftplus ? 1 : 0) | (f.variableB ? 2 : 0) | (f.variableC ? 4 : 0) | (hasZ ? 8 : 0);
}

/** [Bt, D, L] → [Bt, Dp, L] with zero rows (no copy when D = Dp). */
function padRows(x: Float32Array, batch: number, dim: number, dp: number, L: number): Float32Array {
  if (dim === dp) return x;
  const out = new Float32Array(batch * dp * L);
  for (let b = 0; b < batch; b++) out.set(x.subarray(b * dim * L, (b + 1) * dim * L), b * dp * L);
  return out;
}

/** [Bt, Dp, L] → [Bt, D, L]. */
function unpadRows(x: Float32Array, batch: number, dim: number, dp: number, L: number): Float32Array {
  if (dim === dp) return x;
  const out = new Float32Array(batch * dim * L);
  for (let b = 0; b < batch; b++) out.set(x.subarray(b * dp * L, b * dp * L + dim * L), b * dim * L);
  return out;
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

/** Operands in the kernels' layouts. */
function prepare(x: ScanHostInputs, f: ScanFlags) {
  const { batch, dim, length: L, dState: N } = f;
  const dp = Math.ceil(dim / 4) * 4;
  return {
    dp,
    u: padRows(x.u, batch, dim, dp, L),
    delta: padRows(x.delta, batch, dim, dp, L),
    z: x.z ? padRows(x.z, batch, dim, dp, L) : new Float32Array(4),
    At: transposePad(x.A, dim, N, dp),
    B: f.variableB ? x.B : transposePad(x.B, dim, N, dp),
    C: f.variableC ? x.C : transposePad(x.C, dim, N, dp),
    Dv: padVector(x.D, dim, dp),
    bias: padVector(x.deltaBias, dim, dp),
    state: blockState(x.initialState, batch, dim, N, dp),
  };
}

/** out [Bt, D, L] and lastState [Bt, D, N] with the WebAssembly kernel. */
export function scanForwardWasm(x: ScanHostInputs, f: ScanFlags): { out: Float32Array; lastState: Float32Array } {
  const { batch, dim, length: L, dState: N } = f;
  const p = prepare(x, f);
  const blocks = batch * (p.dp / 4);
  const parts = Math.max(1, Math.min(blocks, 8 * threadCount()));
  return kernels.withArena((arena) => {
    const pu = arena.write(p.u);
    const pd = arena.write(p.delta);
    const pz = arena.write(p.z);
    const pa = arena.write(p.At);
    const pb = arena.write(p.B);
    const pc = arena.write(p.C);
    const pD = arena.write(p.Dv);
    const pbias = arena.write(p.bias);
    const pstate = arena.write(p.state);
    const pout = arena.allocF32(batch * p.dp * L);
    const args = [pu, pd, pz, pa, pb, pc, pD, pbias, pstate, pout, batch, p.dp, L, N, flagBits(f, !!x.z)];
    kernels.run('scan_fwd', args, parts);
    return {
      out: unpadRows(arena.readF32(pout, batch * p.dp * L), batch, dim, p.dp, L),
      lastState: unblockState(arena.readF32(pstate, batch * p.dp * N), batch, dim, N, p.dp),
    };
  });
}

/** The gradients of the scan for upstream dout [Bt, D, L], with the WebAssembly backward kernel. */
export function scanBackwardWasm(x: ScanHostInputs, dout: Float32Array, f: ScanFlags): ScanHostGrads {
  const { batch, dim, length: L, dState: N } = f;
  const p = prepare(x, f);
  const blocks = p.dp / 4;
  const threads = threadCount();
  const groups = Math.max(1, Math.min(blocks, Math.ceil((2 * threads) / batch)));
  const parts = batch * groups;
  const flags = flagBits(f, !!x.z);
  return kernels.withArena((arena) => {
    const scratchBytes = kernels.exports.scan_bwd_scratch_bytes(L, N, flags);
    const rows = batch * p.dp * L;
    const pu = arena.write(p.u);
    const pd = arena.write(p.delta);
    const pz = arena.write(p.z);
    const pa = arena.write(p.At);
    const pb = arena.write(p.B);
    const pc = arena.write(p.C);
    const pD = arena.write(p.Dv);
    const pbias = arena.write(p.bias);
    const pstate = arena.write(p.state);
    const pdout = arena.write(padRows(dout, batch, dim, p.dp, L));
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
        pu,
        pd,
        pz,
        pa,
        pb,
        pc,
        pD,
        pbias,
        pstate,
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
    // Sum the partials: over batch for [Bt, N, Dp] → [D, N]; over groups for [groups, Bt, N, L].
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
      const out = part.slice(0, size);
      for (let g = 1; g < groups; g++) for (let i = 0; i < size; i++) out[i]! += part[g * size + i]!;
      return out;
    };
    const sumBatch = (ptr: number): Float32Array => {
      const part = arena.f32(ptr, batch * p.dp);
      const out = new Float32Array(dim);
      for (let b = 0; b < batch; b++) for (let d = 0; d < dim; d++) out[d]! += part[b * p.dp + d]!;
      return out;
    };
    return {
      u: unpadRows(arena.readF32(pdu, rows), batch, dim, p.dp, L),
      delta: unpadRows(arena.readF32(pddelta, rows), batch, dim, p.dp, L),
      z: x.z ? unpadRows(arena.readF32(pdz, rows), batch, dim, p.dp, L) : undefined,
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
