/**
 * Causal long convolution by FFT (as S4/S4D's `irfft(rfft(u, 2L) · rfft(k, 2L))[..., :L]`, Gu et al. 2022),
 * O(L log L): an op with a composite reference (a Toeplitz product in tfjs ops, differentiable by tfjs) and a
 * fused host path (our own radix-2 complex FFT in float64) whose gradient is two more FFT correlations.
 * tfjs has no gradient for its FFT ops, so this op is what lets S4 layers train in convolution mode.
 */
import * as tf from '@tensorflow/tfjs-core';
import { assertRank, type CallOptions, defineOp, fromHost, ShapeError } from '@lab/tensor';

/** In-place iterative radix-2 FFT of (re, im) of power-of-two length n; inverse when `inverse` (unscaled). */
export function fftInPlace(re: Float64Array, im: Float64Array, inverse = false): void {
  const n = re.length;
  for (let i = 1, j = 0; i < n; i++) {
    let bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) {
      let t = re[i]!;
      re[i] = re[j]!;
      re[j] = t;
      t = im[i]!;
      im[i] = im[j]!;
      im[j] = t;
    }
  }
  const sign = inverse ? 1 : -1;
  for (let len = 2; len <= n; len <<= 1) {
    const angle = (sign * 2 * Math.PI) / len;
    const wr = Math.cos(angle);
    const wi = Math.sin(angle);
    const half = len >> 1;
    for (let i = 0; i < n; i += len) {
      let cr = 1;
      let ci = 0;
      for (let k = 0; k < half; k++) {
        const a = i + k;
        const b = a + half;
        const xr = re[b]! * cr - im[b]! * ci;
        const xi = re[b]! * ci + im[b]! * cr;
        re[b] = re[a]! - xr;
        im[b] = im[a]! - xi;
        re[a]! += xr;
        im[a]! += xi;
        const nr = cr * wr - ci * wi;
        ci = cr * wi + ci * wr;
        cr = nr;
      }
    }
  }
}

/** The FFT size used for length-L linear convolution without wrap-around: the power of two ≥ 2L. */
function fftSize(L: number): number {
  let n = 1;
  while (n < 2 * L) n <<= 1;
  return n;
}

/** Spectrum of a real length-L row zero-padded to n. */
function spectrum(x: Float32Array, offset: number, L: number, n: number, reverse = false): [Float64Array, Float64Array] {
  const re = new Float64Array(n);
  const im = new Float64Array(n);
  for (let t = 0; t < L; t++) re[t] = x[offset + (reverse ? L - 1 - t : t)]!;
  fftInPlace(re, im);
  return [re, im];
}

/**
 * y[b, h, t] = Σ_{s ≤ t} k[h, s] u[b, h, t − s] on host arrays (k per channel, or per batch and channel
 * when `kPerBatch`), by FFT. With `correlate`, instead y[b, h, s] = Σ_{t ≥ s} k[h, t − s] u[b, h, t].
 */
export function causalConvHost(
  u: Float32Array,
  k: Float32Array,
  batch: number,
  H: number,
  L: number,
  options: { correlate?: boolean; kPerBatch?: boolean } = {},
): Float32Array {
  const n = fftSize(L);
  const out = new Float32Array(batch * H * L);
  const kSpectra: [Float64Array, Float64Array][] = [];
  if (!options.kPerBatch) for (let h = 0; h < H; h++) kSpectra.push(spectrum(k, h * L, L, n));
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < H; h++) {
      const row = (b * H + h) * L;
      // Correlation = convolution of the time-reversed signal, reversed back.
      const [ur, ui] = spectrum(u, row, L, n, options.correlate);
      const [kr, ki] = options.kPerBatch ? spectrum(k, row, L, n) : kSpectra[h]!;
      for (let i = 0; i < n; i++) {
        const r = ur[i]! * kr[i]! - ui[i]! * ki[i]!;
        ui[i] = ur[i]! * ki[i]! + ui[i]! * kr[i]!;
        ur[i] = r;
      }
      fftInPlace(ur, ui, true);
      for (let t = 0; t < L; t++) out[row + t] = ur[options.correlate ? L - 1 - t : t]! / n;
    }
  }
  return out;
}

/** Composite reference: y = u · T(k) with the Toeplitz matrix T[s, t] = k[t − s] (t ≥ s), per channel. */
function causalConvComposite(u: tf.Tensor, k: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const [, H, L] = u.shape as [number, number, number];
    // Row s of T is k shifted right by s (slices and pads only, so tfjs differentiates it on every backend).
    const rows: tf.Tensor[] = [];
    for (let s = 0; s < L; s++) rows.push(tf.pad(tf.slice(k, [0, 0], [H, L - s]), [[0, 0], [s, 0]]));
    const toeplitz = tf.stack(rows, 1); // [H, L (s), L (t)]
    const uh = tf.transpose(u, [1, 0, 2]); // [H, Bt, L]
    return tf.transpose(tf.matMul(uh, toeplitz), [1, 0, 2]); // [Bt, H, L]
  });
}

const causalConvOp = defineOp<[tf.Tensor, tf.Tensor], Record<string, never>>({
  name: 'ssm.causalConv',
  validate: null,
  composite: ([u, k]) => causalConvComposite(u, k),
  fused: {
    backends: ['cpu', 'wasm'],
    forward: ([u, k]) => {
      const [batch, H, L] = u.shape as [number, number, number];
      return { outputs: [{ data: causalConvHost(u.data, k.data, batch, H, L), shape: u.shape }] };
    },
  },
  // du[s] = Σ_{t ≥ s} dy[t] k[t − s]; dk[j] = Σ_b Σ_t dy[t] u[t − j]: both correlations, by FFT.
  gradient: (dy, { inputs: [u, k] }) => {
    const [batch, H, L] = u.shape as [number, number, number];
    const g = dy.dataSync() as Float32Array;
    const uh = u.dataSync() as Float32Array;
    const du = causalConvHost(g, k.dataSync() as Float32Array, batch, H, L, { correlate: true });
    const dkPer = causalConvHost(g, uh, batch, H, L, { correlate: true, kPerBatch: true });
    const dk = new Float32Array(H * L);
    for (let b = 0; b < batch; b++) for (let i = 0; i < H * L; i++) dk[i]! += dkPer[b * H * L + i]!;
    return [fromHost({ data: du, shape: u.shape }), fromHost({ data: dk, shape: k.shape })];
  },
});

/**
 * Causal convolution of each channel with its own length-L kernel (Gu et al. 2022, S4 convolution mode):
 * y[b, h, t] = Σ_{s ≤ t} k[h, s] · u[b, h, t − s]. u: [batch, H, L]; k: [H, L]; returns [batch, H, L].
 * By FFT in O(L log L) on cpu/wasm (differentiable in u and k), a Toeplitz product elsewhere.
 */
export function causalConv(u: tf.Tensor, k: tf.Tensor, options: CallOptions = {}): tf.Tensor3D {
  const fn = 'ssm.causalConv';
  assertRank(fn, 'u', u, 3, '[batch, H, L]');
  assertRank(fn, 'k', k, 2, '[H, L]');
  if (k.shape[0] !== u.shape[1] || k.shape[1] !== u.shape[2]) {
    throw new ShapeError(`${fn}: k must be of shape [${u.shape[1]},${u.shape[2]}] [H, L] (as u), got shape [${k.shape}]`);
  }
  return causalConvOp([u, k], {}, options)[0] as tf.Tensor3D;
}
