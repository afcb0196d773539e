/**
 * Sparse attention patterns as boolean masks (true = attend) that both attention paths accept, and that the
 * fused kernel exploits by skipping tiles with no visible key: sliding window (Beltagy et al. 2020), strided
 * and fixed (Child et al. 2019, "Generating Long Sequences with Sparse Transformers"), Longformer (window +
 * global tokens; Beltagy et al. 2020) and BigBird (window + global + random blocks; Zaheer et al. 2020).
 *
 * Each builder returns a bool tensor [L, S] (or [2, L, S] for the two heads of a factorised pattern), which
 * broadcasts against scores [batch, heads, L, S]. When S ≠ L, query i sits at key position i + S − L (the
 * bottom-right alignment of `causal: true`).
 */
import * as tf from '@tensorflow/tfjs-core';
import { assertInteger, assertKnownOptions, assertOneOf, createRng, ValueError } from '@lab/tensor';

/** Options shared by the builders. */
export interface MaskShapeOptions {
  /** Number of keys (default L). */
  keyLength?: number;
}

function keyLength(fn: string, L: number, options: MaskShapeOptions | undefined): number {
  assertInteger(fn, 'seqLen', L, 1);
  const S = options?.keyLength ?? L;
  assertInteger(fn, 'keyLength', S, 1);
  return S;
}

function toTensor(data: Uint8Array, shape: number[]): tf.Tensor {
  return tf.tensor(data, shape, 'bool');
}

/** Fills an [L, S] mask from a predicate on (query position, key position). */
function build(L: number, S: number, visible: (i: number, j: number) => boolean): Uint8Array {
  const out = new Uint8Array(L * S);
  const offset = S - L;
  for (let i = 0; i < L; i++) for (let j = 0; j < S; j++) if (visible(i + offset, j)) out[i * S + j] = 1;
  return out;
}

/**
 * Sliding-window (local) attention: query i sees keys j with i − left ≤ j ≤ i + right (`causal` forces
 * right = 0). The same band as `{ window: [left, right] }` of the attention functions, as a mask.
 * Returns bool [L, S].
 */
export function slidingWindowMask(
  seqLen: number,
  window: number | [left: number, right: number],
  options: MaskShapeOptions & { causal?: boolean } = {},
): tf.Tensor {
  const fn = 'attention.slidingWindowMask';
  assertKnownOptions(fn, options, ['keyLength', 'causal']);
  const S = keyLength(fn, seqLen, options);
  const [left, right0] = typeof window === 'number' ? [window, window] : window;
  assertInteger(fn, 'window[0] (left)', left, 0);
  assertInteger(fn, 'window[1] (right)', right0, 0);
  const right = options.causal ? 0 : right0;
  return toTensor(
    build(seqLen, S, (i, j) => j >= i - left && j <= i + right),
    [seqLen, S],
  );
}

/**
 * Sparse Transformer factorised patterns (Child et al. 2019, §4.2), causal by default.
 * - `'strided'`: head 1 sees the previous `stride` positions (i − j < stride); head 2 sees every stride-th
 *   position back (i − j ≡ 0 mod stride). For data with a period (images, audio).
 * - `'fixed'`: head 1 sees its own block of `stride` positions (⌊j / stride⌋ = ⌊i / stride⌋); head 2 sees
 *   the last `summary` positions of every block (j mod stride ≥ stride − summary). For text.
 * Returns bool [2, L, S] (one pattern per head: use with 2 heads, or 2 groups of heads after a reshape),
 * or with `combine: true` their union [L, S] for every head.
 */
export function stridedMask(
  seqLen: number,
  stride: number,
  options: MaskShapeOptions & {
    mode?: 'strided' | 'fixed';
    summary?: number;
    causal?: boolean;
    combine?: boolean;
  } = {},
): tf.Tensor {
  const fn = 'attention.stridedMask';
  assertKnownOptions(fn, options, ['keyLength', 'mode', 'summary', 'causal', 'combine']);
  const S = keyLength(fn, seqLen, options);
  assertInteger(fn, 'stride', stride, 1);
  const { mode = 'strided', summary = 1, causal = true, combine = false } = options;
  assertOneOf(fn, 'mode', mode, ['strided', 'fixed']);
  assertInteger(fn, 'summary', summary, 1, stride);
  const past = (i: number, j: number) => !causal || j <= i;
  const first =
    mode === 'strided'
      ? (i: number, j: number) => past(i, j) && Math.abs(i - j) < stride
      : (i: number, j: number) => past(i, j) && Math.floor(i / stride) === Math.floor(j / stride);
  const second =
    mode === 'strided'
      ? (i: number, j: number) => past(i, j) && (((i - j) % stride) + stride) % stride === 0
      : (i: number, j: number) => past(i, j) && j % stride >= stride - summary;
  if (combine)
    return toTensor(
      build(seqLen, S, (i, j) => first(i, j) || second(i, j)),
      [seqLen, S],
    );
  const a = build(seqLen, S, first);
  const b = build(seqLen, S, second);
  const both = new Uint8Array(2 * seqLen * S);
  both.set(a, 0);
  both.set(b, seqLen * S);
  return toTensor(both, [2, seqLen, S]);
}

/**
 * Longformer attention (Beltagy et al. 2020): a sliding window of `window` keys on each side (one-sided
 * width; `causal` keeps the left side only) plus global tokens, which see every key and are seen by every
 * query. Returns bool [L, S] (global positions index the keys; a global query is the query at that position).
 */
export function longformerMask(
  seqLen: number,
  window: number,
  globalTokens: readonly number[],
  options: MaskShapeOptions & { causal?: boolean } = {},
): tf.Tensor {
  const fn = 'attention.longformerMask';
  assertKnownOptions(fn, options, ['keyLength', 'causal']);
  const S = keyLength(fn, seqLen, options);
  assertInteger(fn, 'window', window, 0);
  const global = new Set<number>();
  globalTokens.forEach((g, n) => {
    assertInteger(fn, `globalTokens[${n}]`, g, 0, S - 1);
    global.add(g);
  });
  const causal = options.causal ?? false;
  return toTensor(
    build(seqLen, S, (i, j) => {
      if (causal && j > i) return false;
      return Math.abs(i - j) <= window || global.has(j) || global.has(i);
    }),
    [seqLen, S],
  );
}

/**
 * BigBird block-sparse attention (Zaheer et al. 2020, ITC variant): the sequence in blocks of `blockSize`;
 * query block b sees key blocks b − ⌊windowBlocks/2⌋ … b + ⌊windowBlocks/2⌋, the first `globalBlocks`
 * blocks (which also see everything), and `randomBlocks` other blocks drawn per query block from a
 * generator seeded by `seed` (the same mask in every run and on every platform). Returns bool [L, L].
 */
export function bigBirdMask(
  seqLen: number,
  options: {
    blockSize: number;
    windowBlocks?: number;
    globalBlocks?: number;
    randomBlocks?: number;
    seed?: number;
  },
): tf.Tensor {
  const fn = 'attention.bigBirdMask';
  assertKnownOptions(fn, options, ['blockSize', 'windowBlocks', 'globalBlocks', 'randomBlocks', 'seed']);
  assertInteger(fn, 'seqLen', seqLen, 1);
  const { blockSize, windowBlocks = 3, globalBlocks = 1, randomBlocks = 2, seed = 0 } = options;
  assertInteger(fn, 'blockSize', blockSize, 1, seqLen);
  assertInteger(fn, 'windowBlocks', windowBlocks, 1);
  if (windowBlocks % 2 !== 1)
    throw new ValueError(`${fn}: windowBlocks must be odd (a centred window), got ${windowBlocks}`);
  assertInteger(fn, 'globalBlocks', globalBlocks, 0);
  assertInteger(fn, 'randomBlocks', randomBlocks, 0);
  const n = Math.ceil(seqLen / blockSize);
  const half = (windowBlocks - 1) / 2;
  const rng = createRng(seed);
  const blocks = new Uint8Array(n * n);
  for (let qb = 0; qb < n; qb++) {
    for (let kb = 0; kb < n; kb++) {
      if (Math.abs(qb - kb) <= half || kb < globalBlocks || qb < globalBlocks) blocks[qb * n + kb] = 1;
    }
    // Random blocks among those not yet visible (a partial Fisher–Yates shuffle with seeded draws).
    const free: number[] = [];
    for (let kb = 0; kb < n; kb++) if (!blocks[qb * n + kb]) free.push(kb);
    const take = Math.min(randomBlocks, free.length);
    for (let t = 0; t < take; t++) {
      const pick = t + rng.randintData(1, 0, free.length - t)[0]!;
      [free[t], free[pick]] = [free[pick]!, free[t]!];
      blocks[qb * n + free[t]!] = 1;
    }
  }
  return toTensor(
    build(seqLen, seqLen, (i, j) => blocks[Math.floor(i / blockSize) * n + Math.floor(j / blockSize)] === 1),
    [seqLen, seqLen],
  );
}
