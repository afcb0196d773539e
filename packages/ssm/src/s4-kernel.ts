/**
 * The trainable S4 convolution kernel (Gu et al. 2022, "Efficiently Modeling Long Sequences with Structured
 * State Spaces", Algorithm 1; state-spaces/s4 `SSKernelNPLR`): the DPLR state matrix Ã = Λ − p p*, bilinear
 * discretization, the truncated generating function evaluated at the roots of unity by Cauchy sums with the
 * Woodbury correction for the rank-1 term, then an inverse real DFT. Real-valued tfjs ops throughout (complex
 * numbers as pairs of real tensors) plus an inverse-rFFT op with its adjoint as gradient, so tf.grads works.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  assertKnownOptions,
  assertPositiveInteger,
  assertRank,
  assertShape,
  type CallOptions,
  defineOp,
  fromHost,
  type HostTensor,
  ShapeError,
} from '@lab/tensor';
import { fftInPlace } from './fft.js';
import { dplrChannel, dplrDiscreteHost, type S4NplrHostParams } from './nplr.js';

/** The parameters of {@link s4Kernel} (state-spaces/s4 `SSKernelNPLR`, one SSM per channel). */
export interface S4KernelParams {
  /** log Δ per channel: [H]. */
  logDt: tf.Tensor;
  /** log(−Re Λ) (s4 keeps Re Λ < 0 by this exp transform): [H, N/2]. */
  logLambdaReal: tf.Tensor;
  /** Im Λ: [H, N/2]. */
  LambdaImag: tf.Tensor;
  /** The rank-1 term p (Ã = Λ − p p*), (re, im): [H, N/2, 2]. */
  P: tf.Tensor;
  /** B in the diagonal basis, (re, im): [H, N/2, 2]. */
  B: tf.Tensor;
  /** C̃ = C (I − Ā^L) in the diagonal basis, (re, im): [H, N/2, 2]. */
  C: tf.Tensor;
}

/** Options of {@link s4Kernel}. `impl` picks the inverse DFT: 'fused' = host FFT, 'composite' = DFT matmul. */
export type S4KernelOptions = CallOptions;

/** Checks the six parameter tensors; returns H and M = N/2. */
function checkParams(fn: string, params: S4KernelParams): { H: number; M: number } {
  assertKnownOptions(fn, params as unknown as Record<string, unknown>, ['logDt', 'logLambdaReal', 'LambdaImag', 'P', 'B', 'C']);
  const { logDt, logLambdaReal, LambdaImag, P, B, C } = params;
  assertRank(fn, 'params.logDt', logDt, 1, '[H]');
  const H = logDt.shape[0]!;
  assertRank(fn, 'params.logLambdaReal', logLambdaReal, 2, '[H, N/2]');
  const M = logLambdaReal.shape[1]!;
  assertShape(fn, 'params.logLambdaReal', logLambdaReal, [H, M], '[H, N/2]');
  assertShape(fn, 'params.LambdaImag', LambdaImag, [H, M], '[H, N/2]');
  assertShape(fn, 'params.P', P, [H, M, 2], '[H, N/2, 2] (re, im)');
  assertShape(fn, 'params.B', B, [H, M, 2], '[H, N/2, 2] (re, im)');
  assertShape(fn, 'params.C', C, [H, M, 2], '[H, N/2, 2] (re, im)');
  return { H, M };
}

/**
 * The S4 NPLR convolution kernel (Gu et al. 2022, S4, Algorithm 1), K [H, L] with K[h, l] = C Ā^l B̄ of the
 * conjugate-closed DPLR SSM Ã = Λ − p p* (both members of each pair), bilinear step Δ = exp(logDt), C given
 * as C̃ = C (I − Ā^L). With ω_k = exp(−2πik/L), k = 0..⌊L/2⌋, and the resolvent written without poles,
 *   c(ω)(g(ω) − Ã)⁻¹ = 2Δ (D + s p p*)⁻¹,  D = 2(1 − ω) − Δ(1 + ω)Λ,  s = Δ(1 + ω),
 *   K̂(ω) = 2Δ [k_CB − s k_CP k_PB / (1 + s k_PP)],  k_XY = Σ_n x_n y_n / d_n + conj(x_n y_n) / d̄_n
 * (d̄ with conj λ), then K = irfft(K̂, L). Shapes: logDt [H]; logLambdaReal, LambdaImag [H, N/2]; P, B, C
 * [H, N/2, 2] (re, im). Differentiable in every parameter on every backend.
 */
export function s4Kernel(params: S4KernelParams, L: number, options: S4KernelOptions = {}): tf.Tensor2D {
  const fn = 'ssm.s4Kernel';
  assertKnownOptions(fn, options as Record<string, unknown>, ['impl']);
  checkParams(fn, params);
  assertPositiveInteger(fn, 'L', L);
  return tf.tidy(() => {
    const [re, im] = s4NplrSpectrum(params, L);
    return irfftOp([re, im], { L }, options)[0] as tf.Tensor2D;
  });
}

/** K̂ at ω_k, k = 0..⌊L/2⌋, as (re, im) [H, ⌊L/2⌋ + 1] (tfjs ops). */
function s4NplrSpectrum(params: S4KernelParams, L: number): [tf.Tensor, tf.Tensor] {
  const { logDt, logLambdaReal, LambdaImag, P, B, C } = params;
  const H = logDt.shape[0]!;
  const F = (L >> 1) + 1;
  // ω = cos θ − i sin θ, θ = 2πk/L (float64 on the host, then float32).
  const cos = new Float32Array(F);
  const sin = new Float32Array(F);
  for (let k = 0; k < F; k++) {
    cos[k] = Math.cos((2 * Math.PI * k) / L);
    sin[k] = Math.sin((2 * Math.PI * k) / L);
  }
  const cosT = tf.tensor3d(cos, [1, 1, F]);
  const sinT = tf.tensor3d(sin, [1, 1, F]);
  const dt = tf.reshape(tf.exp(logDt), [H, 1, 1]);
  // a = 2(1 − ω) = 2(1 − cos θ) + 2i sin θ; s = Δ(1 + ω) = Δ(1 + cos θ) − iΔ sin θ.
  const aRe = tf.mul(tf.sub(1, cosT), 2);
  const aIm = tf.mul(sinT, 2);
  const sRe = tf.mul(dt, tf.add(1, cosT)); // [H, 1, F]
  const sIm = tf.neg(tf.mul(dt, sinT));
  const lr = tf.expandDims(tf.neg(tf.exp(logLambdaReal)), 2); // [H, M, 1]
  const li = tf.expandDims(LambdaImag, 2);
  // d = a − sλ and d̄ = a − s conj(λ) [H, M, F]
  const srLr = tf.mul(sRe, lr);
  const siLi = tf.mul(sIm, li);
  const srLi = tf.mul(sRe, li);
  const siLr = tf.mul(sIm, lr);
  const dRe = tf.sub(aRe, tf.sub(srLr, siLi));
  const dIm = tf.sub(aIm, tf.add(srLi, siLr));
  const eRe = tf.sub(aRe, tf.add(srLr, siLi));
  const eIm = tf.sub(aIm, tf.sub(siLr, srLi));
  // 1/d = conj(d)/|d|²
  const dAbs = tf.add(tf.square(dRe), tf.square(dIm));
  const eAbs = tf.add(tf.square(eRe), tf.square(eIm));
  const rRe = tf.div(dRe, dAbs);
  const rIm = tf.div(tf.neg(dIm), dAbs);
  const qRe = tf.div(eRe, eAbs);
  const qIm = tf.div(tf.neg(eIm), eAbs);
  // For v = x·y: v/d + conj(v)/d̄ → Re = vr (rr + qr) − vi (ri − qi), Im = vr (ri + qi) + vi (rr − qr).
  const sumRe = tf.add(rRe, qRe);
  const difRe = tf.sub(rRe, qRe);
  const sumIm = tf.add(rIm, qIm);
  const difIm = tf.sub(rIm, qIm);
  const [pr, pi] = tf.unstack(P, 2) as [tf.Tensor, tf.Tensor]; // [H, M]
  const [br, bi] = tf.unstack(B, 2) as [tf.Tensor, tf.Tensor];
  const [cr, ci] = tf.unstack(C, 2) as [tf.Tensor, tf.Tensor];
  // The four numerators (rows of [H, 4, M]): c·b, c·p, conj(p)·b, conj(p)·p.
  const vRe = tf.stack(
    [
      tf.sub(tf.mul(cr, br), tf.mul(ci, bi)),
      tf.sub(tf.mul(cr, pr), tf.mul(ci, pi)),
      tf.add(tf.mul(pr, br), tf.mul(pi, bi)),
      tf.add(tf.square(pr), tf.square(pi)),
    ],
    1,
  );
  const vIm = tf.stack(
    [
      tf.add(tf.mul(cr, bi), tf.mul(ci, br)),
      tf.add(tf.mul(cr, pi), tf.mul(ci, pr)),
      tf.sub(tf.mul(pr, bi), tf.mul(pi, br)),
      tf.zerosLike(pr),
    ],
    1,
  );
  const kRe = tf.sub(tf.matMul(vRe, sumRe), tf.matMul(vIm, difIm)); // [H, 4, F]
  const kIm = tf.add(tf.matMul(vRe, sumIm), tf.matMul(vIm, difRe));
  const [k00r, k01r, k10r, k11r] = tf.unstack(kRe, 1) as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor]; // [H, F]
  const [k00i, k01i, k10i, k11i] = tf.unstack(kIm, 1) as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
  const s2Re = tf.reshape(sRe, [H, F]);
  const s2Im = tf.reshape(sIm, [H, F]);
  // num = s k01 k10, den = 1 + s k11
  const xRe = tf.sub(tf.mul(k01r, k10r), tf.mul(k01i, k10i));
  const xIm = tf.add(tf.mul(k01r, k10i), tf.mul(k01i, k10r));
  const numRe = tf.sub(tf.mul(s2Re, xRe), tf.mul(s2Im, xIm));
  const numIm = tf.add(tf.mul(s2Re, xIm), tf.mul(s2Im, xRe));
  const denRe = tf.add(1, tf.sub(tf.mul(s2Re, k11r), tf.mul(s2Im, k11i)));
  const denIm = tf.add(tf.mul(s2Re, k11i), tf.mul(s2Im, k11r));
  const den = tf.add(tf.square(denRe), tf.square(denIm));
  const wRe = tf.div(tf.add(tf.mul(numRe, denRe), tf.mul(numIm, denIm)), den);
  const wIm = tf.div(tf.sub(tf.mul(numIm, denRe), tf.mul(numRe, denIm)), den);
  const scale = tf.reshape(tf.mul(dt, 2), [H, 1]);
  return [tf.mul(scale, tf.sub(k00r, wRe)), tf.mul(scale, tf.sub(k00i, wIm))];
}

/** Weights of the one-sided spectrum in a real inverse DFT: 1 at k = 0 (and k = L/2 for even L), else 2. */
function halfWeight(k: number, L: number): number {
  return k === 0 || 2 * k === L ? 1 : 2;
}

/** The inverse real DFT as a matmul: K = X_re · Cos − X_im · Sin with Cos[k, l] = w_k cos(2πkl/L)/L. */
function irfftComposite(re: tf.Tensor, im: tf.Tensor, L: number): tf.Tensor {
  const F = re.shape[1]!;
  const cos = new Float32Array(F * L);
  const sin = new Float32Array(F * L);
  for (let k = 0; k < F; k++) {
    const w = halfWeight(k, L) / L;
    for (let l = 0; l < L; l++) {
      // exact angle reduction: kl mod L
      const a = (2 * Math.PI * ((k * l) % L)) / L;
      cos[k * L + l] = w * Math.cos(a);
      sin[k * L + l] = w * Math.sin(a);
    }
  }
  return tf.tidy(() => tf.sub(tf.matMul(re, tf.tensor2d(cos, [F, L])), tf.matMul(im, tf.tensor2d(sin, [F, L]))));
}

/** Twiddles for a length-L DFT on the host (cos, sin of 2πj/L). */
function twiddles(L: number): [Float64Array, Float64Array] {
  const c = new Float64Array(L);
  const s = new Float64Array(L);
  for (let j = 0; j < L; j++) {
    c[j] = Math.cos((2 * Math.PI * j) / L);
    s[j] = Math.sin((2 * Math.PI * j) / L);
  }
  return [c, s];
}

/**
 * A length-L complex DFT of (re, im) in place, sign −1 (forward) or +1 (inverse, unscaled): radix-2 FFT
 * when L is a power of two, else the direct O(L²) sum.
 */
function dftInPlace(re: Float64Array, im: Float64Array, inverse: boolean, tw?: [Float64Array, Float64Array]): void {
  const L = re.length;
  if ((L & (L - 1)) === 0) {
    fftInPlace(re, im, inverse);
    return;
  }
  const [c, s] = tw ?? twiddles(L);
  const sign = inverse ? 1 : -1;
  const outRe = new Float64Array(L);
  const outIm = new Float64Array(L);
  for (let k = 0; k < L; k++) {
    let sr = 0;
    let si = 0;
    for (let l = 0, j = 0; l < L; l++, j = (j + k) % L) {
      const wr = c[j]!;
      const wi = sign * s[j]!;
      sr += re[l]! * wr - im[l]! * wi;
      si += re[l]! * wi + im[l]! * wr;
    }
    outRe[k] = sr;
    outIm[k] = si;
  }
  re.set(outRe);
  im.set(outIm);
}

/** Host irfft: rows of (re, im) [R, F] → [R, L], Hermitian extension then an inverse DFT. */
function irfftHost(re: HostTensor, im: HostTensor, L: number): Float32Array {
  const [R, F] = re.shape as [number, number];
  const out = new Float32Array(R * L);
  const tw = (L & (L - 1)) === 0 ? undefined : twiddles(L);
  const xr = new Float64Array(L);
  const xi = new Float64Array(L);
  for (let r = 0; r < R; r++) {
    xr.fill(0);
    xi.fill(0);
    for (let k = 0; k < F; k++) {
      xr[k] = re.data[r * F + k]!;
      xi[k] = k === 0 || 2 * k === L ? 0 : im.data[r * F + k]!;
      if (k > 0 && 2 * k !== L) {
        xr[L - k] = xr[k]!;
        xi[L - k] = -xi[k]!;
      }
    }
    dftInPlace(xr, xi, true, tw);
    for (let l = 0; l < L; l++) out[r * L + l] = xr[l]! / L;
  }
  return out;
}

/**
 * The inverse real DFT K [R, L] of a one-sided spectrum (re, im) [R, ⌊L/2⌋ + 1] (numpy/torch `irfft(x, n=L)`):
 * composite = a DFT matmul (tfjs differentiates it), fused = a host FFT (O(L log L) for power-of-two L) whose
 * gradient is its adjoint, again one FFT per row: ∂/∂re_k = w_k/L Re G_k, ∂/∂im_k = w_k/L Im G_k with
 * G = DFT(dK) (sign −1) and w_k the one-sided weights (the imaginary parts at k = 0 and L/2 are ignored).
 */
const irfftOp = defineOp<[tf.Tensor, tf.Tensor], { L: number }>({
  name: 'ssm.irfft',
  validate: null,
  composite: ([re, im], { L }) => irfftComposite(re, im, L),
  fused: {
    backends: ['cpu', 'wasm'],
    forward: ([re, im], { L }) => ({ outputs: [{ data: irfftHost(re, im, L), shape: [re.shape[0]!, L] }] }),
  },
  gradient: (dy, { inputs: [re], attrs: { L } }) => {
    const [R, F] = re.shape as [number, number];
    const g = dy.dataSync() as Float32Array;
    const gRe = new Float32Array(R * F);
    const gIm = new Float32Array(R * F);
    const tw = (L & (L - 1)) === 0 ? undefined : twiddles(L);
    const xr = new Float64Array(L);
    const xi = new Float64Array(L);
    for (let r = 0; r < R; r++) {
      for (let l = 0; l < L; l++) xr[l] = g[r * L + l]!;
      xi.fill(0);
      dftInPlace(xr, xi, false, tw);
      for (let k = 0; k < F; k++) {
        const w = halfWeight(k, L) / L;
        gRe[r * F + k] = w * xr[k]!;
        gIm[r * F + k] = k === 0 || 2 * k === L ? 0 : w * xi[k]!;
      }
    }
    return [fromHost({ data: gRe, shape: [R, F] }), fromHost({ data: gIm, shape: [R, F] })];
  },
});

/**
 * Inverse real DFT of a one-sided spectrum (numpy `irfft(x, n=L)`): re, im [R, ⌊L/2⌋ + 1] → [R, L].
 * Differentiable on every backend; the fused path (cpu, wasm) is an FFT with its adjoint as gradient,
 * `{ impl: 'composite' }` forces the DFT matmul.
 */
export function irfft(re: tf.Tensor, im: tf.Tensor, L: number, options: CallOptions = {}): tf.Tensor2D {
  const fn = 'ssm.irfft';
  assertKnownOptions(fn, options as Record<string, unknown>, ['impl']);
  assertPositiveInteger(fn, 'L', L);
  assertRank(fn, 're', re, 2, '[R, ⌊L/2⌋ + 1]');
  const F = (L >> 1) + 1;
  if (re.shape[1] !== F) throw new ShapeError(`${fn}: re must have ⌊L/2⌋ + 1 = ${F} columns [R, ⌊L/2⌋ + 1], got shape [${re.shape}]`);
  assertShape(fn, 'im', im, re.shape, '[R, ⌊L/2⌋ + 1] (as re)');
  return irfftOp([re, im], { L }, options)[0] as tf.Tensor2D;
}

/** Reads kernel parameter tensors to host arrays. */
export function s4NplrParamsToHost(params: S4KernelParams): S4NplrHostParams {
  const { H, M } = checkParams('ssm.s4NplrParamsToHost', params);
  const f32 = (t: tf.Tensor) => Float32Array.from(t.dataSync());
  return {
    H,
    N: 2 * M,
    logDt: f32(params.logDt),
    logLambdaReal: f32(params.logLambdaReal),
    LambdaImag: f32(params.LambdaImag),
    P: f32(params.P),
    B: f32(params.B),
    C: f32(params.C),
  };
}

/** Host parameters as new tensors (the caller owns them). */
export function s4NplrParamsFromHost(p: S4NplrHostParams): S4KernelParams {
  const M = p.N / 2;
  return {
    logDt: tf.tensor1d(p.logDt),
    logLambdaReal: tf.tensor2d(p.logLambdaReal, [p.H, M]),
    LambdaImag: tf.tensor2d(p.LambdaImag, [p.H, M]),
    P: tf.tensor3d(p.P, [p.H, M, 2]),
    B: tf.tensor3d(p.B, [p.H, M, 2]),
    C: tf.tensor3d(p.C, [p.H, M, 2]),
  };
}

/**
 * The dense recurrent form of the S4 NPLR SSM for the kernel length L (state-spaces/s4 `_setup_step`, dense
 * mode): the real state z [N] holds (re, im) of the N/2 kept modes interleaved; z_t = Ā z_{t−1} + B̄ u_t,
 * y_t = C z_t with Ā, B̄ the bilinear discretization of the real form of Λ − p p* and C = C̃ (I − Ā^L)⁻¹.
 * Float64 on the host (not differentiable in the parameters). Returns dA [H, N, N], dB [H, N], C [H, N].
 */
export function s4NplrDense(params: S4KernelParams, L: number): { dA: tf.Tensor3D; dB: tf.Tensor2D; C: tf.Tensor2D } {
  const fn = 'ssm.s4NplrDense';
  assertPositiveInteger(fn, 'L', L);
  const host = s4NplrParamsToHost(params);
  const dense = s4NplrDenseHost(host, L);
  const { H, N } = host;
  return {
    dA: tf.tensor3d(Float32Array.from(dense.dA), [H, N, N]),
    dB: tf.tensor2d(Float32Array.from(dense.dB), [H, N]),
    C: tf.tensor2d(Float32Array.from(dense.C), [H, N]),
  };
}

/** {@link s4NplrDense} on host parameters, float64: dA [H·N·N], dB [H·N], C [H·N]. */
export function s4NplrDenseHost(host: S4NplrHostParams, L: number): { dA: Float64Array; dB: Float64Array; C: Float64Array } {
  const { H, N } = host;
  const dA = new Float64Array(H * N * N);
  const dB = new Float64Array(H * N);
  const C = new Float64Array(H * N);
  for (let h = 0; h < H; h++) {
    const d = dplrDiscreteHost(dplrChannel(host, h), L);
    dA.set(d.dA, h * N * N);
    dB.set(d.dB, h * N);
    C.set(d.C, h * N);
  }
  return { dA, dB, C };
}
