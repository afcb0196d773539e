/**
 * A counter-based random number generator: Philox-4x32-10 (Salmon et al. 2011, "Parallel random numbers:
 * as easy as 1, 2, 3"), the generator of cuRAND, PyTorch's CUDA RNG and Random123.
 *
 * Every value is a pure function of (seed, stream, position), computed with integer operations and IEEE
 * double arithmetic only (no Math.log / Math.cos, whose last bits differ between engines), so streams are
 * bit-identical in Node and every browser, whatever tfjs backend is active: tensors are filled on the host
 * and uploaded.
 *
 * Normals come from the Box–Muller transform on pairs of 32-bit words; uniforms from 24-bit words (float32
 * has a 24-bit significand, so `uniform` hits every float32 multiple of 2^-24 in [0, 1) with equal odds).
 */
import * as tf from '@tensorflow/tfjs-core';
import { assertInteger, assertNumber, ValueError } from './errors.js';

const PHILOX_M0 = 0xd2511f53;
const PHILOX_M1 = 0xcd9e8d57;
const PHILOX_W0 = 0x9e3779b9;
const PHILOX_W1 = 0xbb67ae85;
const TWO_POW_16 = 65536;
const TWO_POW_32 = 4294967296;

/** High 32 bits of the 64-bit product of two uint32 (exact: every intermediate stays below 2^53). */
function mulhi32(a: number, b: number): number {
  const p1 = (a & 0xffff) * b;
  const p2 = (a >>> 16) * b;
  const t = p2 + Math.floor(p1 / TWO_POW_16);
  return Math.floor(t / TWO_POW_16) >>> 0;
}

/**
 * One Philox-4x32-10 block: the 4 × 32-bit output for counter `c` under key `k`, written to `out`.
 * Known answers (Random123 kat_vectors): counter 0, key 0 → 6627e8d5 e169c58d bc57ac4c 9b00dbd8.
 */
export function philox4x32(
  c0: number,
  c1: number,
  c2: number,
  c3: number,
  k0: number,
  k1: number,
  out: Uint32Array,
): Uint32Array {
  for (let round = 0; round < 10; round++) {
    const hi0 = mulhi32(PHILOX_M0, c0);
    const lo0 = Math.imul(PHILOX_M0, c0) >>> 0;
    const hi1 = mulhi32(PHILOX_M1, c2);
    const lo1 = Math.imul(PHILOX_M1, c2) >>> 0;
    c0 = (hi1 ^ c1 ^ k0) >>> 0;
    c1 = lo1;
    c2 = (hi0 ^ c3 ^ k1) >>> 0;
    c3 = lo0;
    k0 = (k0 + PHILOX_W0) >>> 0;
    k1 = (k1 + PHILOX_W1) >>> 0;
  }
  out[0] = c0;
  out[1] = c1;
  out[2] = c2;
  out[3] = c3;
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Deterministic elementary functions (fdlibm's algorithms, IEEE double arithmetic only).

const LN2_HI = 6.93147180369123816490e-1;
const LN2_LO = 1.90821492927058770002e-10;
const LG1 = 6.666666666666735130e-1;
const LG2 = 3.999999999940941908e-1;
const LG3 = 2.857142874366239149e-1;
const LG4 = 2.222219843214978396e-1;
const LG5 = 1.818357216161805012e-1;
const LG6 = 1.531383769920937332e-1;
const LG7 = 1.479819860511658591e-1;

const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);
const LITTLE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const HI = LITTLE ? 1 : 0;

/** Natural logarithm of a positive finite double, fdlibm's e_log.c (error < 1 ulp), engine-independent. */
export function deterministicLog(x: number): number {
  f64[0] = x;
  let hx = u32[HI]! | 0;
  let k = 0;
  if (hx < 0x00100000) {
    // subnormal: scale up
    k -= 54;
    f64[0] = x * 18014398509481984; // 2^54
    hx = u32[HI]! | 0;
  }
  k += (hx >> 20) - 1023;
  hx &= 0x000fffff;
  const i = (hx + 0x95f64) & 0x100000;
  u32[HI] = hx | (i ^ 0x3ff00000); // normalize to [sqrt(2)/2, sqrt(2))
  k += i >> 20;
  const f = f64[0]! - 1.0;
  const dk = k;
  if ((0x000fffff & (2 + hx)) < 3) {
    if (f === 0) return dk * LN2_HI + dk * LN2_LO;
    const R = f * f * (0.5 - 0.33333333333333333 * f);
    return dk * LN2_HI - (R - dk * LN2_LO - f);
  }
  const s = f / (2.0 + f);
  const z = s * s;
  let j = hx - 0x6147a;
  const w = z * z;
  const j2 = 0x6b851 - hx;
  const t1 = w * (LG2 + w * (LG4 + w * LG6));
  const t2 = z * (LG1 + w * (LG3 + w * (LG5 + w * LG7)));
  j |= j2;
  const R = t2 + t1;
  if (j > 0) {
    const hfsq = 0.5 * f * f;
    return dk * LN2_HI - (hfsq - (s * (hfsq + R) + dk * LN2_LO) - f);
  }
  return dk * LN2_HI - (s * (f - R) - dk * LN2_LO - f);
}

const S1 = -1.66666666666666324348e-1;
const S2 = 8.33333333332248946124e-3;
const S3 = -1.98412698298579493134e-4;
const S4 = 2.75573137070700676789e-6;
const S5 = -2.50507602534068634195e-8;
const S6 = 1.58969099521155010221e-10;
const C1 = 4.16666666666666019037e-2;
const C2 = -1.38888888888741095749e-3;
const C3 = 2.48015872894767294178e-5;
const C4 = -2.75573143513906633035e-7;
const C5 = 2.08757232129817482790e-9;
const C6 = -1.13596475577881948265e-11;
const PIO2 = 1.5707963267948966;

/** sin(x) for |x| <= π/4, fdlibm's __kernel_sin with no tail. */
function kernelSin(x: number): number {
  const z = x * x;
  const v = z * x;
  const r = S2 + z * (S3 + z * (S4 + z * (S5 + z * S6)));
  return x + v * (S1 + z * r);
}

/** cos(x) for |x| <= π/4, fdlibm's __kernel_cos with no tail. */
function kernelCos(x: number): number {
  const z = x * x;
  const r = z * (C1 + z * (C2 + z * (C3 + z * (C4 + z * (C5 + z * C6)))));
  const hz = 0.5 * z;
  const w = 1.0 - hz;
  return w + (1.0 - w - hz + z * r);
}

/**
 * cos(2π·t) and sin(2π·t) for a dyadic t in [0, 1) (a multiple of 2^-32), written to out[0], out[1].
 * The reduction is exact because t is dyadic: t = q/4 + r/4 with r in [-1/2, 1/2).
 */
export function deterministicCosSin2Pi(t: number, out: Float64Array): Float64Array {
  const t4 = t * 4;
  let q = Math.floor(t4);
  let r = t4 - q;
  if (r >= 0.5) {
    r -= 1;
    q += 1;
  }
  const x = r * PIO2;
  const s = kernelSin(x);
  const c = kernelCos(x);
  switch (q & 3) {
    case 0:
      out[0] = c;
      out[1] = s;
      break;
    case 1:
      out[0] = -s;
      out[1] = c;
      break;
    case 2:
      out[0] = -c;
      out[1] = -s;
      break;
    default:
      out[0] = s;
      out[1] = -c;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------

const SEED_MAX = Number.MAX_SAFE_INTEGER;

type Shape = number | readonly number[];

function shapeSize(fn: string, shape: Shape): { shape: number[]; size: number } {
  const dims = typeof shape === 'number' ? [shape] : [...shape];
  let size = 1;
  dims.forEach((d, i) => {
    assertInteger(fn, `shape[${i}]`, d, 0);
    size *= d;
  });
  return { shape: dims, size };
}

/**
 * A seeded, counter-based generator. Draws advance a block counter; `fork()` derives an independent stream
 * without consuming the parent's, so a program can hand one generator to each component.
 */
export class Rng {
  readonly seed: number;
  private readonly k0: number;
  private readonly k1: number;
  private readonly s0: number;
  private readonly s1: number;
  /** Number of 128-bit blocks consumed so far. */
  private offset = 0;
  private forks = 0;
  private readonly block = new Uint32Array(4);
  private readonly trig = new Float64Array(2);

  /** @internal use {@link createRng}. */
  constructor(seed: number, key: readonly [number, number], stream: readonly [number, number]) {
    this.seed = seed;
    this.k0 = key[0] >>> 0;
    this.k1 = key[1] >>> 0;
    this.s0 = stream[0] >>> 0;
    this.s1 = stream[1] >>> 0;
  }

  /** Blocks drawn so far (each block is four 32-bit words). */
  get position(): number {
    return this.offset;
  }

  private nextBlock(): Uint32Array {
    const n = this.offset++;
    return philox4x32(n >>> 0, Math.floor(n / TWO_POW_32) >>> 0, this.s0, this.s1, this.k0, this.k1, this.block);
  }

  /** `n` raw 32-bit words (4 per block; a partial last block is discarded). */
  uint32Data(n: number): Uint32Array {
    const out = new Uint32Array(n);
    for (let i = 0; i < n; i += 4) {
      const b = this.nextBlock();
      for (let j = 0; j < 4 && i + j < n; j++) out[i + j] = b[j]!;
    }
    return out;
  }

  /** `n` float32 uniforms in [lo, hi), as a Float32Array. */
  uniformData(n: number, lo = 0, hi = 1): Float32Array {
    const out = new Float32Array(n);
    const span = hi - lo;
    for (let i = 0; i < n; i += 4) {
      const b = this.nextBlock();
      for (let j = 0; j < 4 && i + j < n; j++) {
        const u = (b[j]! >>> 8) * 5.9604644775390625e-8; // 2^-24
        out[i + j] = lo + span * u;
      }
    }
    // lo + span*u rounds to float32 and can land on hi when span is wide; keep the interval half-open.
    for (let i = 0; i < n; i++) if (out[i]! >= hi) out[i] = largestFloat32Below(hi);
    return out;
  }

  /** `n` standard normals (Box–Muller), as a Float32Array. */
  normalData(n: number, mean = 0, std = 1): Float32Array {
    const out = new Float32Array(n);
    const trig = this.trig;
    for (let i = 0; i < n; i += 4) {
      const b = this.nextBlock();
      for (let p = 0; p < 4; p += 2) {
        const u1 = (b[p]! + 0.5) * 2.3283064365386963e-10; // (0, 1), 2^-32
        const t = b[p + 1]! * 2.3283064365386963e-10; // [0, 1)
        const r = Math.sqrt(-2 * deterministicLog(u1));
        deterministicCosSin2Pi(t, trig);
        if (i + p < n) out[i + p] = mean + std * r * trig[0]!;
        if (i + p + 1 < n) out[i + p + 1] = mean + std * r * trig[1]!;
      }
    }
    return out;
  }

  /** `n` integers uniform in [lo, hi) (rejection sampling: no modulo bias), as an Int32Array. */
  randintData(n: number, lo: number, hi: number): Int32Array {
    const range = hi - lo;
    const limit = Math.floor(TWO_POW_32 / range) * range;
    const out = new Int32Array(n);
    let b = this.nextBlock();
    let j = 0;
    for (let i = 0; i < n; ) {
      if (j === 4) {
        b = this.nextBlock();
        j = 0;
      }
      const w = b[j++]!;
      if (w < limit) out[i++] = lo + (w % range);
    }
    return out;
  }

  /** A float32 tensor of standard normals (or `mean + std·z`). */
  normal(shape: Shape, mean = 0, std = 1): tf.Tensor {
    const { shape: dims, size } = shapeSize('Rng.normal', shape);
    assertNumber('Rng.normal', 'mean', mean);
    assertNumber('Rng.normal', 'std', std, { min: 0 });
    return tf.tensor(this.normalData(size, mean, std), dims, 'float32');
  }

  /** A float32 tensor of uniforms in [lo, hi). */
  uniform(shape: Shape, lo = 0, hi = 1): tf.Tensor {
    const { shape: dims, size } = shapeSize('Rng.uniform', shape);
    assertNumber('Rng.uniform', 'lo', lo);
    assertNumber('Rng.uniform', 'hi', hi);
    if (!(hi > lo)) throw new ValueError(`Rng.uniform: hi must be greater than lo, got lo=${lo}, hi=${hi}`);
    return tf.tensor(this.uniformData(size, lo, hi), dims, 'float32');
  }

  /** An int32 tensor of integers uniform in [lo, hi). */
  randint(shape: Shape, lo: number, hi: number): tf.Tensor {
    const { shape: dims, size } = shapeSize('Rng.randint', shape);
    assertInteger('Rng.randint', 'lo', lo, -(2 ** 31), 2 ** 31 - 1);
    assertInteger('Rng.randint', 'hi', hi, -(2 ** 31) + 1, 2 ** 31);
    if (!(hi > lo)) throw new ValueError(`Rng.randint: hi must be greater than lo, got lo=${lo}, hi=${hi}`);
    if (hi - lo > TWO_POW_32) throw new ValueError(`Rng.randint: hi - lo must be at most 2^32, got ${hi - lo}`);
    return tf.tensor(this.randintData(size, lo, hi), dims, 'int32');
  }

  /**
   * An independent generator: its key and stream are a Philox block of this generator's key at a counter
   * reserved for forks, so forking does not consume this generator's draws, and the k-th fork of a given
   * generator is always the same stream.
   */
  fork(): Rng {
    const id = this.forks++;
    const b = philox4x32(id >>> 0, 0x666f726b /* "fork" */, this.s0, this.s1 ^ 0x80000000, this.k0, this.k1, new Uint32Array(4));
    return new Rng(this.seed, [b[0]!, b[1]!], [b[2]!, b[3]!]);
  }
}

/** The largest float32 strictly below x (x finite). */
function largestFloat32Below(x: number): number {
  const f = new Float32Array([x]);
  const u = new Uint32Array(f.buffer);
  while (f[0]! >= x) {
    if (f[0] === 0) f[0] = -1.401298464324817e-45;
    else u[0] = f[0]! > 0 ? u[0]! - 1 : u[0]! + 1;
  }
  return f[0]!;
}

/**
 * A seeded generator. `seed` is an integer in [0, 2^53): its low and high 32 bits form the Philox key.
 *
 * ```ts
 * const rng = createRng(42);
 * const x = rng.normal([2, 3]); // the same numbers in Node, Chromium, on cpu and wasm
 * ```
 */
export function createRng(seed: number): Rng {
  assertInteger('createRng', 'seed', seed, 0, SEED_MAX);
  return new Rng(seed, [seed >>> 0, Math.floor(seed / TWO_POW_32) >>> 0], [0, 0]);
}
