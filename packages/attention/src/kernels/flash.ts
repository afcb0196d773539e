/**
 * Host side of FlashAttention (Dao et al. 2022; Dao 2023): lays the inputs out for the WebAssembly SIMD
 * kernels of assembly/index.ts (head dim padded to 8, keys and values transposed per head, mask and bias as
 * broadcast strides, a block map of the mask), runs them split over the worker pool, and a plain TypeScript
 * fallback with the same semantics (used without WebAssembly SIMD).
 */
import { threadCount, useWasmKernels } from '@lab/tensor';
import { attentionKernels } from './module.js';

/** A broadcast operand read at b·strides[0] + h·strides[1] + i·strides[2] + j·strides[3]. */
export interface Strided<T> {
  data: T;
  strides: [number, number, number, number];
  /** Its shape padded to rank 4 (1 = broadcast). */
  shape: [number, number, number, number];
}

/** One attention problem on host arrays. q: [B·Hq, L, D]; k, v: [B·Hkv, S, D] (row-major). */
export interface FlashProblem {
  batch: number;
  headsQ: number;
  group: number;
  L: number;
  S: number;
  D: number;
  scale: number;
  left: number;
  right: number;
  offset: number;
  mask?: Strided<Uint8Array> | undefined;
  bias?: Strided<Float32Array> | undefined;
  /** Query rows per block. */
  blockRows: number;
  /** Keys per block (a multiple of 8). */
  blockCols: number;
}

/** Row-major strides of a shape padded to rank 4, with 0 for broadcast (size-1) dimensions. */
export function broadcastStrides(shape: readonly number[]): {
  strides: [number, number, number, number];
  shape: [number, number, number, number];
} {
  const s = [...shape];
  while (s.length < 4) s.unshift(1);
  const padded = s as [number, number, number, number];
  const strides: [number, number, number, number] = [0, 0, 0, 0];
  let acc = 1;
  for (let i = 3; i >= 0; i--) {
    strides[i] = padded[i] === 1 ? 0 : acc;
    acc *= padded[i]!;
  }
  return { strides, shape: padded };
}

const roundUp = (n: number, m: number) => Math.ceil(n / m) * m;

function padColumns(x: Float32Array, rows: number, d: number, dp: number): Float32Array {
  if (d === dp) return x;
  const out = new Float32Array(rows * dp);
  for (let r = 0; r < rows; r++) out.set(x.subarray(r * d, r * d + d), r * dp);
  return out;
}

function unpadColumns(x: Float32Array, rows: number, d: number, dp: number): Float32Array {
  if (d === dp) return x;
  const out = new Float32Array(rows * d);
  for (let r = 0; r < rows; r++) out.set(x.subarray(r * dp, r * dp + d), r * d);
  return out;
}

/**
 * For a mask, which (query block, key block) tiles hold at least one visible entry: [B·Hq, nQB, nKB] of 0/1.
 * Computed once per distinct (batch, head) of the mask's own (broadcast) shape.
 */
export function maskBlockMap(p: FlashProblem): Uint8Array | undefined {
  const mask = p.mask;
  if (!mask) return undefined;
  const { batch, headsQ, L, S, blockRows: br, blockCols: bc } = p;
  const nqb = Math.ceil(L / br);
  const nkb = Math.ceil(S / bc);
  const [mb, mh] = mask.shape;
  const [sb, sh, sl, ss] = mask.strides;
  const distinct = new Map<string, Uint8Array>();
  const out = new Uint8Array(batch * headsQ * nqb * nkb);
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < headsQ; h++) {
      const key = `${mb === 1 ? 0 : b},${mh === 1 ? 0 : h}`;
      let tiles = distinct.get(key);
      if (!tiles) {
        tiles = new Uint8Array(nqb * nkb);
        const base = b * sb + h * sh;
        for (let i = 0; i < L; i++) {
          const qb = Math.floor(i / br);
          const rowBase = base + i * sl;
          for (let j = 0; j < S; j++)
            if (mask.data[rowBase + j * ss]) tiles[qb * nkb + Math.floor(j / bc)] = 1;
        }
        distinct.set(key, tiles);
      }
      out.set(tiles, (b * headsQ + h) * nqb * nkb);
    }
  }
  return out;
}

// Parameter block indices (keep in sync with assembly/index.ts).
const P = {
  Q: 0,
  KT: 1,
  V: 2,
  OUT: 3,
  LSE: 4,
  BHQ: 5,
  HQ: 6,
  GROUP: 7,
  L: 8,
  S: 9,
  DP: 10,
  SP: 11,
  SCALE: 12,
  LEFT: 13,
  RIGHT: 14,
  OFFSET: 15,
  MASK: 16,
  MASK_STRIDES: 17,
  BIAS: 21,
  BIAS_STRIDES: 22,
  BLOCKMAP: 26,
  SCRATCH: 27,
  BR: 28,
  BC: 29,
  K: 30,
  VT: 31,
  DOUT: 32,
  DVEC: 33,
  DQ: 34,
  DK: 35,
  DV: 36,
  BHKV: 37,
  COUNT: 40,
} as const;

type Arena = Parameters<Parameters<typeof attentionKernels.withArena>[0]>[0];

/** Mask, bias and block map of a whole problem, written once into the arena (byte offsets, 0 = none). */
interface SharedOperands {
  mask: number;
  bias: number;
  blockmap: number;
}

function writeShared(arena: Arena, p: FlashProblem): SharedOperands {
  return {
    mask: p.mask ? arena.write(p.mask.data) : 0,
    blockmap: p.mask ? arena.write(maskBlockMap(p)!) : 0,
    bias: p.bias ? arena.write(p.bias.data) : 0,
  };
}

/**
 * A slice of a problem that the kernels run on their own: the query heads [h0, h0 + heads) of batch b and
 * their kv heads (whole batches when `b` is -1). Sizes are in heads of the full problem.
 */
interface Chunk {
  /** Batch of the chunk, or -1 for the whole problem. */
  b: number;
  h0: number;
  /** Query heads in the chunk. */
  heads: number;
}

/**
 * Chunks of one kv head (its group of query heads) when each is large enough to keep every thread busy, so
 * that the arena holds one head's q, k, v and outputs at a time (peak O(G·L·D), not O(B·H·L·D)); else one
 * chunk with everything.
 */
function chunksOf(p: FlashProblem): Chunk[] {
  const bhkv = (p.batch * p.headsQ) / p.group;
  // One chunk for everything when a head is small, or when a head has too few query blocks to keep the
  // threads busy on its own (a decode step: L = 1 against a long cache).
  const tasksPerChunk = p.group * Math.ceil(p.L / p.blockRows);
  if (bhkv === 1 || p.L * p.S < 256 * 256 || tasksPerChunk < 8)
    return [{ b: -1, h0: 0, heads: p.batch * p.headsQ }];
  const chunks: Chunk[] = [];
  for (let b = 0; b < p.batch; b++) {
    for (let h0 = 0; h0 < p.headsQ; h0 += p.group) chunks.push({ b, h0, heads: p.group });
  }
  return chunks;
}

/** The parameter block of a chunk (mask, bias and block map pointers offset to its first head). */
function chunkParams(p: FlashProblem, c: Chunk, shared: SharedOperands, dp: number, sp: number): Int32Array {
  const params = new Int32Array(P.COUNT);
  const f32 = new Float32Array(params.buffer);
  const whole = c.b < 0;
  params[P.BHQ] = c.heads;
  params[P.BHKV] = c.heads / p.group;
  params[P.HQ] = whole ? p.headsQ : c.heads;
  params[P.GROUP] = p.group;
  params[P.L] = p.L;
  params[P.S] = p.S;
  params[P.DP] = dp;
  params[P.SP] = sp;
  f32[P.SCALE] = p.scale;
  params[P.LEFT] = p.left;
  params[P.RIGHT] = p.right;
  params[P.OFFSET] = p.offset;
  params[P.BR] = p.blockRows;
  params[P.BC] = p.blockCols;
  const b = whole ? 0 : c.b;
  if (p.mask) {
    const [sb, sh] = p.mask.strides;
    params[P.MASK] = shared.mask + b * sb + c.h0 * sh;
    params.set(p.mask.strides, P.MASK_STRIDES);
    const tiles = Math.ceil(p.L / p.blockRows) * Math.ceil(p.S / p.blockCols);
    params[P.BLOCKMAP] = shared.blockmap + (b * p.headsQ + c.h0) * tiles;
  }
  if (p.bias) {
    const [sb, sh] = p.bias.strides;
    params[P.BIAS] = shared.bias + 4 * (b * sb + c.h0 * sh);
    params.set(p.bias.strides, P.BIAS_STRIDES);
  }
  return params;
}

/** Element offsets of a chunk's query rows [heads·L·D] and kv rows [heads/G · S · D] in the full arrays. */
function chunkOffsets(p: FlashProblem, c: Chunk): { q: number; kv: number } {
  const bh0 = c.b < 0 ? 0 : c.b * p.headsQ + c.h0;
  return { q: bh0 * p.L * p.D, kv: (bh0 / p.group) * p.S * p.D };
}

let threadLimit = Number.POSITIVE_INFINITY;
let backwardSplit: 'auto' | 'always' | 'never' = 'auto';

/**
 * Chooses the backward algorithm: one pass per kv head ('never' split), FlashAttention-2's split into a
 * dK/dV kernel over key blocks and a dQ kernel over query blocks ('always'), or by the thread count ('auto').
 * For tests and benchmarks; both give the same gradients.
 */
export function setFlashBackwardSplit(mode: 'auto' | 'always' | 'never'): void {
  backwardSplit = mode;
}

/**
 * Caps the threads the flash kernels use (default: every thread of the pool). For benchmarks comparing one
 * thread with several without restarting the pool.
 */
export function setFlashThreadLimit(threads: number): void {
  threadLimit = Math.max(1, threads);
}

function threadsInUse(): number {
  return Math.min(threadCount(), threadLimit);
}

/** The forward pass on the WebAssembly kernels: out [B·Hq, L, D] and lse [B·Hq, L]. */
export function flashForwardWasm(
  p: FlashProblem,
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
): { out: Float32Array; lse: Float32Array } {
  const { L, S, D } = p;
  const dp = roundUp(D, 8);
  const sp = roundUp(S, 8);
  const out = new Float32Array(p.batch * p.headsQ * L * D);
  const lse = new Float32Array(p.batch * p.headsQ * L);
  const threads = threadsInUse();
  attentionKernels.withArena((arena) => {
    const shared = writeShared(arena, p);
    for (const c of chunksOf(p)) {
      attentionKernels.withArena((chunkArena) => {
        const bhq = c.heads;
        const bhkv = bhq / p.group;
        const off = chunkOffsets(p, c);
        const params = chunkParams(p, c, shared, dp, sp);
        params[P.Q] = chunkArena.write(padColumns(q.subarray(off.q, off.q + bhq * L * D), bhq * L, D, dp));
        const kp = chunkArena.write(padColumns(k.subarray(off.kv, off.kv + bhkv * S * D), bhkv * S, D, dp));
        params[P.V] = chunkArena.write(
          padColumns(v.subarray(off.kv, off.kv + bhkv * S * D), bhkv * S, D, dp),
        );
        params[P.KT] = chunkArena.allocF32(bhkv * dp * sp);
        params[P.OUT] = chunkArena.allocF32(bhq * L * dp);
        params[P.LSE] = chunkArena.allocF32(bhq * L);
        const tasks = bhq * Math.ceil(L / p.blockRows);
        const parts = threads === 1 ? 1 : Math.max(1, Math.min(tasks, 16 * threads));
        params[P.SCRATCH] = chunkArena.allocF32(parts * (p.blockRows * p.blockCols + 2 * p.blockRows + 52));
        attentionKernels.run('pack_panels', [kp, params[P.KT]!, bhkv, S, dp, sp], Math.min(bhkv, threads));
        attentionKernels.run('flash_forward', [chunkArena.write(params)], parts);
        out.set(unpadColumns(chunkArena.f32(params[P.OUT]!, bhq * L * dp), bhq * L, D, dp), off.q);
        lse.set(chunkArena.f32(params[P.LSE]!, bhq * L), (off.q / D) | 0);
      });
    }
  });
  return { out, lse };
}

/** The backward pass on the WebAssembly kernels: dq [B·Hq, L, D], dk and dv [B·Hkv, S, D]. */
export function flashBackwardWasm(
  p: FlashProblem,
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  out: Float32Array,
  lse: Float32Array,
  dout: Float32Array,
): { dq: Float32Array; dk: Float32Array; dv: Float32Array } {
  const { L, S, D } = p;
  const dp = roundUp(D, 8);
  const sp = roundUp(S, 8);
  const dq = new Float32Array(q.length);
  const dk = new Float32Array(k.length);
  const dv = new Float32Array(v.length);
  const threads = threadsInUse();
  attentionKernels.withArena((arena) => {
    const shared = writeShared(arena, p);
    for (const c of chunksOf(p)) {
      attentionKernels.withArena((chunkArena) => {
        const bhq = c.heads;
        const bhkv = bhq / p.group;
        const off = chunkOffsets(p, c);
        const params = chunkParams(p, c, shared, dp, sp);
        const rowsQ = (x: Float32Array) => padColumns(x.subarray(off.q, off.q + bhq * L * D), bhq * L, D, dp);
        const rowsKV = (x: Float32Array) =>
          padColumns(x.subarray(off.kv, off.kv + bhkv * S * D), bhkv * S, D, dp);
        params[P.Q] = chunkArena.write(rowsQ(q));
        params[P.K] = chunkArena.write(rowsKV(k));
        const vp = chunkArena.write(rowsKV(v));
        const outp = chunkArena.write(rowsQ(out));
        params[P.DOUT] = chunkArena.write(rowsQ(dout));
        params[P.LSE] = chunkArena.write(lse.subarray(off.q / D, off.q / D + bhq * L));
        params[P.KT] = chunkArena.allocF32(bhkv * dp * sp);
        params[P.VT] = chunkArena.allocF32(bhkv * dp * sp);
        params[P.DVEC] = chunkArena.allocF32(bhq * L);
        params[P.DQ] = chunkArena.allocF32(bhq * L * dp);
        params[P.DK] = chunkArena.allocF32(bhkv * S * dp);
        params[P.DV] = chunkArena.allocF32(bhkv * S * dp);
        // One pass per kv head when there are enough of them for every thread; else FlashAttention-2's split
        // (dK, dV over key blocks, then dQ over query blocks), which recomputes P and dP twice but parallelises.
        const split =
          backwardSplit === 'auto' ? threads > 1 && bhkv < 2 * threads : backwardSplit === 'always';
        const tasks = split
          ? Math.max(bhkv * Math.ceil(S / p.blockCols), bhq * Math.ceil(L / p.blockRows))
          : bhkv;
        const parts = threads === 1 ? 1 : Math.max(1, Math.min(tasks, split ? 16 * threads : 64));
        params[P.SCRATCH] = chunkArena.allocF32(parts * (2 * p.blockRows * p.blockCols + 48));
        chunkArena.fillF32(params[P.DQ]!, bhq * L * dp, 0);
        chunkArena.fillF32(params[P.DK]!, bhkv * S * dp, 0);
        chunkArena.fillF32(params[P.DV]!, bhkv * S * dp, 0);
        const heads = Math.min(bhkv, threads);
        attentionKernels.run('pack_panels', [params[P.K]!, params[P.KT]!, bhkv, S, dp, sp], heads);
        attentionKernels.run('pack_panels', [vp, params[P.VT]!, bhkv, S, dp, sp], heads);
        attentionKernels.run(
          'flash_backward_dvec',
          [params[P.DOUT]!, outp, params[P.DVEC]!, bhq * L, dp],
          Math.min(threads, bhq),
        );
        const paramsPtr = chunkArena.write(params);
        if (split) {
          attentionKernels.run('flash_backward_dkdv', [paramsPtr], parts);
          attentionKernels.run('flash_backward_dq', [paramsPtr], parts);
        } else {
          attentionKernels.run('flash_backward', [paramsPtr], parts);
        }
        dq.set(unpadColumns(chunkArena.f32(params[P.DQ]!, bhq * L * dp), bhq * L, D, dp), off.q);
        dk.set(unpadColumns(chunkArena.f32(params[P.DK]!, bhkv * S * dp), bhkv * S, D, dp), off.kv);
        dv.set(unpadColumns(chunkArena.f32(params[P.DV]!, bhkv * S * dp), bhkv * S, D, dp), off.kv);
      });
    }
  });
  return { dq, dk, dv };
}

/** Visible keys of row i of head (b, h), with their scaled, biased scores, into `scores` (others -Infinity). */
function rowScores(
  p: FlashProblem,
  q: Float32Array,
  k: Float32Array,
  b: number,
  h: number,
  i: number,
  scores: Float64Array,
): void {
  const { L, S, D, headsQ, group, scale, left, right, offset, mask, bias } = p;
  const bh = b * headsQ + h;
  const kvh = (b * headsQ) / group + Math.floor(h / group);
  const qo = (bh * L + i) * D;
  const lo = left >= 0 ? Math.max(0, i + offset - left) : 0;
  const hi = right >= 0 ? Math.min(S - 1, i + offset + right) : S - 1;
  scores.fill(Number.NEGATIVE_INFINITY);
  for (let j = lo; j <= hi; j++) {
    if (mask) {
      const [sb, sh, sl, ss] = mask.strides;
      if (!mask.data[b * sb + h * sh + i * sl + j * ss]) continue;
    }
    const ko = (kvh * S + j) * D;
    let dot = 0;
    for (let d = 0; d < D; d++) dot += q[qo + d]! * k[ko + d]!;
    let s = Math.fround(dot * scale);
    if (bias) {
      const [sb, sh, sl, ss] = bias.strides;
      s += bias.data[b * sb + h * sh + i * sl + j * ss]!;
    }
    scores[j] = s;
  }
}

/** The forward pass in plain TypeScript (row by row; O(S) scratch): out [B·Hq, L, D], lse [B·Hq, L]. */
export function flashForwardFallback(
  p: FlashProblem,
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
): { out: Float32Array; lse: Float32Array } {
  const { batch, headsQ, group, L, S, D } = p;
  const out = new Float32Array(batch * headsQ * L * D);
  const lse = new Float32Array(batch * headsQ * L);
  const scores = new Float64Array(S);
  const acc = new Float64Array(D);
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < headsQ; h++) {
      const bh = b * headsQ + h;
      const kvh = (b * headsQ) / group + Math.floor(h / group);
      for (let i = 0; i < L; i++) {
        rowScores(p, q, k, b, h, i, scores);
        let m = Number.NEGATIVE_INFINITY;
        for (let j = 0; j < S; j++) if (scores[j]! > m) m = scores[j]!;
        const o = (bh * L + i) * D;
        if (m === Number.NEGATIVE_INFINITY) {
          lse[bh * L + i] = Number.NEGATIVE_INFINITY;
          continue;
        }
        acc.fill(0);
        let sum = 0;
        for (let j = 0; j < S; j++) {
          if (scores[j] === Number.NEGATIVE_INFINITY) continue;
          const e = Math.exp(scores[j]! - m);
          sum += e;
          const vo = (kvh * S + j) * D;
          for (let d = 0; d < D; d++) acc[d] = acc[d]! + e * v[vo + d]!;
        }
        for (let d = 0; d < D; d++) out[o + d] = acc[d]! / sum;
        lse[bh * L + i] = m + Math.log(sum);
      }
    }
  }
  return { out, lse };
}

/** The backward pass in plain TypeScript (recomputing P row by row from lse). */
export function flashBackwardFallback(
  p: FlashProblem,
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  out: Float32Array,
  lse: Float32Array,
  dout: Float32Array,
): { dq: Float32Array; dk: Float32Array; dv: Float32Array } {
  const { batch, headsQ, group, L, S, D, scale } = p;
  const dq = new Float32Array(q.length);
  const dk = new Float32Array(k.length);
  const dv = new Float32Array(v.length);
  const scores = new Float64Array(S);
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < headsQ; h++) {
      const bh = b * headsQ + h;
      const kvh = (b * headsQ) / group + Math.floor(h / group);
      for (let i = 0; i < L; i++) {
        const l = lse[bh * L + i]!;
        if (l === Number.NEGATIVE_INFINITY) continue;
        rowScores(p, q, k, b, h, i, scores);
        const o = (bh * L + i) * D;
        let dvec = 0;
        for (let d = 0; d < D; d++) dvec += dout[o + d]! * out[o + d]!;
        for (let j = 0; j < S; j++) {
          if (scores[j] === Number.NEGATIVE_INFINITY) continue;
          const pr = Math.exp(scores[j]! - l);
          const kvo = (kvh * S + j) * D;
          let dpr = 0;
          for (let d = 0; d < D; d++) {
            dv[kvo + d] = dv[kvo + d]! + pr * dout[o + d]!;
            dpr += dout[o + d]! * v[kvo + d]!;
          }
          const ds = pr * (dpr - dvec) * scale;
          for (let d = 0; d < D; d++) {
            dq[o + d] = dq[o + d]! + ds * k[kvo + d]!;
            dk[kvo + d] = dk[kvo + d]! + ds * q[o + d]!;
          }
        }
      }
    }
  }
  return { dq, dk, dv };
}

/** The forward pass on the best host path (WebAssembly SIMD, else the TypeScript fallback). */
export function flashForwardHost(p: FlashProblem, q: Float32Array, k: Float32Array, v: Float32Array) {
  return useWasmKernels() ? flashForwardWasm(p, q, k, v) : flashForwardFallback(p, q, k, v);
}

/** The backward pass on the best host path. */
export function flashBackwardHost(
  p: FlashProblem,
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  out: Float32Array,
  lse: Float32Array,
  dout: Float32Array,
) {
  return useWasmKernels()
    ? flashBackwardWasm(p, q, k, v, out, lse, dout)
    : flashBackwardFallback(p, q, k, v, out, lse, dout);
}
