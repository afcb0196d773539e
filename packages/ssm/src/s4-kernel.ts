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
import { solve64 } from './linalg.js';
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

/**
 * Options of {@link s4Kernel}. `impl`: 'fused' (default on cpu/wasm) = the float64 host kernel (Cauchy sums,
 * Woodbury, FFT) with its hand-derived gradient; 'composite' = tfjs ops (differentiated by tfjs) with the DFT
 * matmul, or tfjs's FFT with an adjoint gradient for even L ≥ 2048 where the backend has one.
 */
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
 *   K̂(ω) = 2Δ [k_CB − s k_CP k_PB / (1 + s k_PP)],  k = Σ_n v_n / d_n + conj(v_n) / d̄_n
 * for v = C̃·B, C̃·P, conj(P)·B, |P|² (d̄ with conj λ: the conjugate partner modes), then K = irfft(K̂, L). Shapes: logDt [H]; logLambdaReal, LambdaImag [H, N/2]; P, B, C
 * [H, N/2, 2] (re, im). Differentiable in every parameter on every backend.
 */
export function s4Kernel(params: S4KernelParams, L: number, options: S4KernelOptions = {}): tf.Tensor2D {
  const fn = 'ssm.s4Kernel';
  assertKnownOptions(fn, options as Record<string, unknown>, ['impl']);
  checkParams(fn, params);
  assertPositiveInteger(fn, 'L', L);
  const { logDt, logLambdaReal, LambdaImag, P, B, C } = params;
  return s4KernelOp([logDt, logLambdaReal, LambdaImag, P, B, C], { L }, options)[0] as tf.Tensor2D;
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

/** Above this length the composite prefers tfjs's own FFT (when the backend has one) to the O(L²) DFT matmul. */
const SPECTRAL_MIN_LENGTH = 2048;

/**
 * The inverse real DFT in tfjs ops: the DFT matmul (any backend, tfjs differentiates it) or, for even
 * L ≥ 2048 on a backend with an IFFT kernel (cpu, webgl, webgpu; not wasm), {@link irfftSpectral}.
 */
function irfftComposite(re: tf.Tensor, im: tf.Tensor, L: number): tf.Tensor {
  if (L % 2 === 0 && L >= SPECTRAL_MIN_LENGTH && tf.getKernel('IFFT', tf.getBackend()) !== undefined) return irfftSpectral(re, im, L);
  return irfftMatmul(re, im, L);
}

/**
 * tfjs's `tf.spectral.irfft` (even L) with its adjoint as a custom gradient (tfjs has none for FFT ops or complex
 * tensors): ∂/∂re_k = w_k/L Re rfft(dK)_k, ∂/∂im_k = w_k/L Im rfft(dK)_k, zero for the ignored im at k = 0, L/2.
 */
export function irfftSpectral(re: tf.Tensor, im: tf.Tensor, L: number): tf.Tensor {
  const F = re.shape[1]!;
  const weights = () => tf.tensor2d(Float32Array.from({ length: F }, (_, k) => halfWeight(k, L) / L), [1, F]);
  const imMask = () => tf.tensor2d(Float32Array.from({ length: F }, (_, k) => (k === 0 || 2 * k === L ? 0 : 1)), [1, F]);
  const op = tf.customGrad((...args: unknown[]) => {
    const [a, b] = args as [tf.Tensor, tf.Tensor];
    return {
      value: tf.tidy(() => tf.spectral.irfft(tf.complex(a, tf.mul(b, imMask())))),
      gradFunc: (dy: tf.Tensor | tf.Tensor[]) =>
        tf.tidy(() => {
          const spec = tf.spectral.rfft((Array.isArray(dy) ? dy[0]! : dy) as tf.Tensor2D);
          const w = weights();
          return [tf.mul(tf.real(spec), w), tf.mul(tf.mul(tf.imag(spec), w), imMask())];
        }),
    };
  }) as (a: tf.Tensor, b: tf.Tensor) => tf.Tensor;
  return op(re, im);
}

/** The inverse real DFT as a matmul: K = X_re · Cos − X_im · Sin with Cos[k, l] = w_k cos(2πkl/L)/L. */
function irfftMatmul(re: tf.Tensor, im: tf.Tensor, L: number): tf.Tensor {
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

/** How a length-L DFT is done on the host: radix-2 FFT, the direct sum (L < 32), or Bluestein's chirp-z. */
interface DftPlan {
  L: number;
  kind: 'fft' | 'direct' | 'bluestein';
  /** direct: cos, sin of 2πj/L. */
  cos?: Float64Array;
  sin?: Float64Array;
  /** bluestein: FFT size M ≥ 2L − 1, chirp c_m = e^{−iπm²/L} (m < L), and the spectrum of b = conj(c) wrapped. */
  M?: number;
  cRe?: Float64Array;
  cIm?: Float64Array;
  bRe?: Float64Array;
  bIm?: Float64Array;
}

function dftPlan(L: number): DftPlan {
  if ((L & (L - 1)) === 0) return { L, kind: 'fft' };
  if (L < 32) {
    const cos = new Float64Array(L);
    const sin = new Float64Array(L);
    for (let j = 0; j < L; j++) {
      cos[j] = Math.cos((2 * Math.PI * j) / L);
      sin[j] = Math.sin((2 * Math.PI * j) / L);
    }
    return { L, kind: 'direct', cos, sin };
  }
  let M = 1;
  while (M < 2 * L - 1) M <<= 1;
  const cRe = new Float64Array(L);
  const cIm = new Float64Array(L);
  const bRe = new Float64Array(M);
  const bIm = new Float64Array(M);
  for (let m = 0; m < L; m++) {
    const a = (Math.PI * ((m * m) % (2 * L))) / L; // exact angle reduction
    cRe[m] = Math.cos(a);
    cIm[m] = -Math.sin(a);
    bRe[m] = cRe[m]!;
    bIm[m] = -cIm[m]!;
    if (m > 0) {
      bRe[M - m] = bRe[m]!;
      bIm[M - m] = bIm[m]!;
    }
  }
  fftInPlace(bRe, bIm);
  return { L, kind: 'bluestein', M, cRe, cIm, bRe, bIm };
}

/**
 * A length-L complex DFT of (re, im) in place, sign −1 (forward) or +1 (inverse, unscaled): radix-2 FFT when L
 * is a power of two, Bluestein's chirp-z (X_k = c_k Σ_n x_n c_n conj(c_{k−n}), c_m = e^{−iπm²/L}, the sum a
 * power-of-two FFT convolution) for other L ≥ 32, the direct sum below. The inverse is conj ∘ forward ∘ conj.
 */
function dftInPlace(re: Float64Array, im: Float64Array, inverse: boolean, plan: DftPlan): void {
  const L = re.length;
  if (plan.kind === 'fft') {
    fftInPlace(re, im, inverse);
    return;
  }
  if (plan.kind === 'direct') {
    const c = plan.cos!;
    const s = plan.sin!;
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
    return;
  }
  const M = plan.M!;
  const cRe = plan.cRe!;
  const cIm = plan.cIm!;
  const conj = inverse ? -1 : 1;
  const aRe = new Float64Array(M);
  const aIm = new Float64Array(M);
  for (let n = 0; n < L; n++) {
    const xr = re[n]!;
    const xi = conj * im[n]!;
    aRe[n] = xr * cRe[n]! - xi * cIm[n]!;
    aIm[n] = xr * cIm[n]! + xi * cRe[n]!;
  }
  fftInPlace(aRe, aIm);
  const bRe = plan.bRe!;
  const bIm = plan.bIm!;
  for (let i = 0; i < M; i++) {
    const r = aRe[i]! * bRe[i]! - aIm[i]! * bIm[i]!;
    aIm[i] = aRe[i]! * bIm[i]! + aIm[i]! * bRe[i]!;
    aRe[i] = r;
  }
  fftInPlace(aRe, aIm, true);
  for (let k = 0; k < L; k++) {
    const vr = aRe[k]! / M;
    const vi = aIm[k]! / M;
    re[k] = vr * cRe[k]! - vi * cIm[k]!;
    im[k] = conj * (vr * cIm[k]! + vi * cRe[k]!);
  }
}

/** Host irfft: rows of (re, im) [R, F] → [R, L], Hermitian extension then an inverse DFT (float64 inside). */
function irfftHost(re: ArrayLike<number>, im: ArrayLike<number>, R: number, L: number): Float32Array {
  const F = (L >> 1) + 1;
  const out = new Float32Array(R * L);
  const tw = dftPlan(L);
  const xr = new Float64Array(L);
  const xi = new Float64Array(L);
  for (let r = 0; r < R; r++) {
    xr.fill(0);
    xi.fill(0);
    for (let k = 0; k < F; k++) {
      xr[k] = re[r * F + k]!;
      xi[k] = k === 0 || 2 * k === L ? 0 : im[r * F + k]!;
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
    forward: ([re, im], { L }) => ({ outputs: [{ data: irfftHost(re.data, im.data, re.shape[0]!, L), shape: [re.shape[0]!, L] }] }),
  },
  gradient: (dy, { inputs: [re], attrs: { L } }) => {
    const [R, F] = re.shape as [number, number];
    const g = dy.dataSync() as Float32Array;
    const gRe = new Float32Array(R * F);
    const gIm = new Float32Array(R * F);
    const tw = dftPlan(L);
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

/**
 * The bilinear discretization of the S4 SSM in tfjs ops (differentiable in logDt, Λ, P, B), in the real form
 * of {@link s4NplrDense}: with D = I − Δ/2 blockdiag(Λ) (inverted per mode, 1/(1 − Δλ/2)) and the rank-1 term
 * u wᵀ (u = p, w = 2p as (re, im) pairs), Sherman–Morrison gives M⁻¹ = (D + Δ/2 u wᵀ)⁻¹, then Ā = 2M⁻¹ − I
 * (= M⁻¹(I + Δ/2 A)) and B̄ = Δ M⁻¹ B. Returns dA [H, N, N] and dB [H, N] (state layout (re, im) interleaved).
 */
export function s4NplrDiscrete(params: S4KernelParams): { dA: tf.Tensor3D; dB: tf.Tensor2D } {
  const { H, M } = checkParams('ssm.s4NplrDiscrete', params);
  const N = 2 * M;
  return tf.tidy(() => {
    const dt = tf.exp(params.logDt); // [H]
    const half = tf.reshape(tf.mul(dt, 0.5), [H, 1]);
    const lr = tf.neg(tf.exp(params.logLambdaReal)); // [H, M]
    const li = params.LambdaImag;
    // δ = 1/(1 − Δλ/2) = conj(x)/|x|², x = (1 − Δ/2 λr) − i Δ/2 λi
    const xr = tf.sub(1, tf.mul(half, lr));
    const xi = tf.neg(tf.mul(half, li));
    const mag = tf.add(tf.square(xr), tf.square(xi));
    const dr = tf.div(xr, mag);
    const di = tf.div(tf.neg(xi), mag);
    // Block diagonal [[δr, −δi], [δi, δr]] as a dense [H, N, N].
    const blocks = tf.stack([tf.stack([dr, tf.neg(di)], 2), tf.stack([di, dr], 2)], 2); // [H, M, 2, 2]
    const eye = tf.reshape(tf.eye(M), [1, M, 1, M, 1]);
    const dInv = tf.reshape(tf.mul(tf.expandDims(blocks, 3), eye), [H, N, N]);
    const u = tf.reshape(params.P, [H, N]);
    const du = tf.sum(tf.mul(dInv, tf.expandDims(u, 1)), 2); // D⁻¹ u [H, N]
    const wd = tf.mul(tf.sum(tf.mul(tf.expandDims(u, 2), dInv), 1), 2); // wᵀ D⁻¹ [H, N]
    const denom = tf.add(1, tf.mul(half, tf.mul(tf.sum(tf.mul(u, du), 1, true), 2))); // 1 + Δ/2 wᵀ D⁻¹ u [H, 1]
    const coef = tf.reshape(tf.div(half, denom), [H, 1, 1]);
    const mInv = tf.sub(dInv, tf.mul(coef, tf.mul(tf.expandDims(du, 2), tf.expandDims(wd, 1))));
    const dA = tf.sub(tf.mul(mInv, 2), tf.eye(N)) as tf.Tensor3D;
    const b = tf.reshape(params.B, [H, 1, N]);
    const dB = tf.mul(tf.reshape(dt, [H, 1]), tf.sum(tf.mul(mInv, b), 2)) as tf.Tensor2D;
    return { dA, dB };
  });
}

/**
 * Row solves x_h = c_h M_h⁻¹ (c [H, N], M [H, N, N]) by float64 LU on the host, differentiable through a custom
 * gradient (tfjs has no solve): with r_hᵀ = M_h⁻¹ g_hᵀ, ∂ℓ/∂c = r and ∂ℓ/∂M = −xᵀ r.
 */
export function solveRows(c: tf.Tensor, M: tf.Tensor): tf.Tensor2D {
  const fn = 'ssm.solveRows';
  assertRank(fn, 'c', c, 2, '[H, N]');
  const [H, N] = c.shape as [number, number];
  assertShape(fn, 'M', M, [H, N, N], '[H, N, N]');
  const op = tf.customGrad((...args: unknown[]) => {
    const [cc, mm, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    const cData = cc.dataSync();
    const mData = mm.dataSync();
    const x = new Float32Array(H * N);
    for (let h = 0; h < H; h++) {
      // x M = c ⇔ Mᵀ xᵀ = cᵀ
      const mT = new Float64Array(N * N);
      for (let i = 0; i < N; i++) for (let j = 0; j < N; j++) mT[j * N + i] = mData[h * N * N + i * N + j]!;
      x.set(solve64(mT, Float64Array.from(cData.subarray(h * N, (h + 1) * N)), N, 1, fn), h * N);
    }
    const value = tf.tensor2d(x, [H, N]);
    save([mm, value]);
    return {
      value,
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const g = (Array.isArray(dy) ? dy[0]! : dy).dataSync();
        const [mSaved, xSaved] = saved as [tf.Tensor, tf.Tensor];
        const m = mSaved.dataSync();
        const xs = xSaved.dataSync();
        const gc = new Float32Array(H * N);
        const gm = new Float32Array(H * N * N);
        for (let h = 0; h < H; h++) {
          const r = solve64(Float64Array.from(m.subarray(h * N * N, (h + 1) * N * N)), Float64Array.from(g.subarray(h * N, (h + 1) * N)), N, 1, fn);
          gc.set(r, h * N);
          for (let i = 0; i < N; i++) for (let k = 0; k < N; k++) gm[h * N * N + i * N + k] = -xs[h * N + i]! * r[k]!;
        }
        return [tf.tensor2d(gc, [H, N]), tf.tensor3d(gm, [H, N, N])];
      },
    };
  }) as (c: tf.Tensor, M: tf.Tensor) => tf.Tensor2D;
  return op(c, M);
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

/** One channel's parameters in float64 (from the op's host inputs). */
function channelArrays(x: HostTensor[], h: number, M: number) {
  const [logDt, lr, li, P, B, C] = x as [HostTensor, HostTensor, HostTensor, HostTensor, HostTensor, HostTensor];
  const o = h * M;
  return {
    dt: Math.exp(logDt.data[h]!),
    lr: Float64Array.from({ length: M }, (_, n) => -Math.exp(lr.data[o + n]!)),
    li: Float64Array.from({ length: M }, (_, n) => li.data[o + n]!),
    pr: Float64Array.from({ length: M }, (_, n) => P.data[2 * (o + n)]!),
    pi: Float64Array.from({ length: M }, (_, n) => P.data[2 * (o + n) + 1]!),
    br: Float64Array.from({ length: M }, (_, n) => B.data[2 * (o + n)]!),
    bi: Float64Array.from({ length: M }, (_, n) => B.data[2 * (o + n) + 1]!),
    cr: Float64Array.from({ length: M }, (_, n) => C.data[2 * (o + n)]!),
    ci: Float64Array.from({ length: M }, (_, n) => C.data[2 * (o + n) + 1]!),
  };
}

type Channel = ReturnType<typeof channelArrays>;

/** The four Cauchy numerators per mode: v0 = c·b, v1 = c·p, v2 = conj(p)·b, v3 = |p|² (real), each [M]. */
interface Numerators {
  v0r: Float64Array;
  v0i: Float64Array;
  v1r: Float64Array;
  v1i: Float64Array;
  v2r: Float64Array;
  v2i: Float64Array;
  v3r: Float64Array;
}

function numerators(ch: Channel, M: number): Numerators {
  const v: Numerators = {
    v0r: new Float64Array(M),
    v0i: new Float64Array(M),
    v1r: new Float64Array(M),
    v1i: new Float64Array(M),
    v2r: new Float64Array(M),
    v2i: new Float64Array(M),
    v3r: new Float64Array(M),
  };
  for (let n = 0; n < M; n++) {
    const pr = ch.pr[n]!;
    const pi = ch.pi[n]!;
    const br = ch.br[n]!;
    const bi = ch.bi[n]!;
    const cr = ch.cr[n]!;
    const ci = ch.ci[n]!;
    v.v0r[n] = cr * br - ci * bi;
    v.v0i[n] = cr * bi + ci * br;
    v.v1r[n] = cr * pr - ci * pi;
    v.v1i[n] = cr * pi + ci * pr;
    v.v2r[n] = pr * br + pi * bi;
    v.v2i[n] = pr * bi - pi * br;
    v.v3r[n] = pr * pr + pi * pi;
  }
  return v;
}

/** Per-frequency constants: a = 2(1 − ω), 1 + ω, ω = e^{−2πik/L}. */
function frequencyTable(L: number) {
  const F = (L >> 1) + 1;
  const aRe = new Float64Array(F);
  const aIm = new Float64Array(F);
  const oRe = new Float64Array(F);
  const oIm = new Float64Array(F);
  for (let k = 0; k < F; k++) {
    const c = Math.cos((2 * Math.PI * k) / L);
    const sn = Math.sin((2 * Math.PI * k) / L);
    aRe[k] = 2 * (1 - c);
    aIm[k] = 2 * sn;
    oRe[k] = 1 + c;
    oIm[k] = -sn;
  }
  return { F, aRe, aIm, oRe, oIm };
}

/**
 * The four Cauchy sums of one channel at one frequency, k_j = Σ_n v_jn r_n + conj(v_jn) q_n with
 * r = 1/(a − sλ), q = 1/(a − s conj λ), written into kr, ki. With S = r + q and D = r − q:
 * Re = Re v · Re S − Im v · Im D, Im = Re v · Im S + Im v · Re D.
 */
function cauchyAt(ch: Channel, v: Numerators, M: number, aRe: number, aIm: number, sRe: number, sIm: number, kr: Float64Array, ki: Float64Array): void {
  const { lr, li } = ch;
  const { v0r, v0i, v1r, v1i, v2r, v2i, v3r } = v;
  let k0r = 0;
  let k0i = 0;
  let k1r = 0;
  let k1i = 0;
  let k2r = 0;
  let k2i = 0;
  let k3r = 0;
  let k3i = 0;
  for (let n = 0; n < M; n++) {
    const lre = lr[n]!;
    const lim = li[n]!;
    const pr = sRe * lre;
    const pi = sIm * lim;
    const qr = sRe * lim;
    const qi = sIm * lre;
    const dRe = aRe - (pr - pi);
    const dIm = aIm - (qr + qi);
    const eRe = aRe - (pr + pi);
    const eIm = aIm - (qi - qr);
    const dInv = 1 / (dRe * dRe + dIm * dIm);
    const eInv = 1 / (eRe * eRe + eIm * eIm);
    const r0 = dRe * dInv;
    const r1 = -dIm * dInv;
    const q0 = eRe * eInv;
    const q1 = -eIm * eInv;
    const S0 = r0 + q0;
    const S1 = r1 + q1;
    const D0 = r0 - q0;
    const D1 = r1 - q1;
    let a = v0r[n]!;
    let b = v0i[n]!;
    k0r += a * S0 - b * D1;
    k0i += a * S1 + b * D0;
    a = v1r[n]!;
    b = v1i[n]!;
    k1r += a * S0 - b * D1;
    k1i += a * S1 + b * D0;
    a = v2r[n]!;
    b = v2i[n]!;
    k2r += a * S0 - b * D1;
    k2i += a * S1 + b * D0;
    a = v3r[n]!;
    k3r += a * S0;
    k3i += a * S1;
  }
  kr[0] = k0r;
  ki[0] = k0i;
  kr[1] = k1r;
  ki[1] = k1i;
  kr[2] = k2r;
  ki[2] = k2i;
  kr[3] = k3r;
  ki[3] = k3i;
}

/** X = 2Δ (k0 − s k1 k2 / (1 + s k3)) and the intermediates the gradient needs. */
function woodbury(kr: Float64Array, ki: Float64Array, sRe: number, sIm: number, dt: number) {
  const k12r = kr[1]! * kr[2]! - ki[1]! * ki[2]!;
  const k12i = kr[1]! * ki[2]! + ki[1]! * kr[2]!;
  const numRe = sRe * k12r - sIm * k12i;
  const numIm = sRe * k12i + sIm * k12r;
  const denRe = 1 + sRe * kr[3]! - sIm * ki[3]!;
  const denIm = sRe * ki[3]! + sIm * kr[3]!;
  const dd = denRe * denRe + denIm * denIm;
  const invRe = denRe / dd;
  const invIm = -denIm / dd;
  const wRe = numRe * invRe - numIm * invIm;
  const wIm = numRe * invIm + numIm * invRe;
  return { xRe: 2 * dt * (kr[0]! - wRe), xIm: 2 * dt * (ki[0]! - wIm), wRe, wIm, invRe, invIm, k12r, k12i };
}

/** The fused forward: K [H, L] in float64 (Cauchy sums, Woodbury, inverse real DFT), rounded to float32. */
function s4KernelForwardHost(x: HostTensor[], L: number): Float32Array {
  const H = x[0]!.shape[0]!;
  const M = x[1]!.shape[1]!;
  const { F, aRe, aIm, oRe, oIm } = frequencyTable(L);
  const specRe = new Float64Array(H * F);
  const specIm = new Float64Array(H * F);
  const kr = new Float64Array(4);
  const ki = new Float64Array(4);
  for (let h = 0; h < H; h++) {
    const ch = channelArrays(x, h, M);
    const v = numerators(ch, M);
    for (let k = 0; k < F; k++) {
      const sRe = ch.dt * oRe[k]!;
      const sIm = ch.dt * oIm[k]!;
      cauchyAt(ch, v, M, aRe[k]!, aIm[k]!, sRe, sIm, kr, ki);
      const w = woodbury(kr, ki, sRe, sIm, ch.dt);
      specRe[h * F + k] = w.xRe;
      specIm[h * F + k] = w.xIm;
    }
  }
  return irfftHost(specRe, specIm, H, L);
}

const mul = (ar: number, ai: number, br: number, bi: number): [number, number] => [ar * br - ai * bi, ar * bi + ai * br];
/** a · conj(b) */
const mulConj = (ar: number, ai: number, br: number, bi: number): [number, number] => [ar * br + ai * bi, ai * br - ar * bi];

/**
 * The fused kernel's gradient on the host (ĝ = ∂ℓ/∂Re + i ∂ℓ/∂Im; for holomorphic w = f(z), ĝ_z = ĝ_w conj(f′)):
 * ĝ_X = the irfft adjoint of dK; X = 2Δ(k0 − W): ĝ_k0 = 2Δ ĝ_X, ĝ_W = −2Δ ĝ_X; W = s k1 k2 / den, den = 1 + s k3;
 * k_j = Σ v_j r + conj(v_j) q: ĝ_v = ĝ_k conj(r) + conj(ĝ_k) q, ĝ_r = Σ_j ĝ_kj conj(v_j), ĝ_q = Σ_j ĝ_kj v_j;
 * r = 1/d: ĝ_d = −ĝ_r conj(r²); d = a − sλ, d̄ = a − s conj(λ): ĝ_λ = −ĝ_d conj(s) − conj(ĝ_d̄) s, ĝ_s collects
 * −ĝ_d conj(λ) − ĝ_d̄ λ and the Woodbury terms; ∂ℓ/∂Δ = Σ_k Re(conj(ĝ_X) 2(k0 − W) + conj(ĝ_s)(1 + ω)).
 * Two passes per channel: over frequencies for the Woodbury scalars ĝ_kj, then over modes (inner loop over
 * frequencies, accumulators in registers) for ĝ_v, ĝ_λ and the rest of ∂ℓ/∂Δ.
 */
function s4KernelGradientHost(x: HostTensor[], dy: Float32Array, L: number): Float32Array[] {
  const H = x[0]!.shape[0]!;
  const M = x[1]!.shape[1]!;
  const { F, aRe, aIm, oRe, oIm } = frequencyTable(L);
  const gLogDt = new Float32Array(H);
  const gLr = new Float32Array(H * M);
  const gLi = new Float32Array(H * M);
  const gP = new Float32Array(H * M * 2);
  const gB = new Float32Array(H * M * 2);
  const gC = new Float32Array(H * M * 2);
  const kr = new Float64Array(4);
  const ki = new Float64Array(4);
  const tw = dftPlan(L);
  const gr = new Float64Array(L);
  const gi = new Float64Array(L);
  // ĝ_kj per frequency (j = 0..3).
  const gk = Array.from({ length: 8 }, () => new Float64Array(F));
  const [g0r, g0i, g1r, g1i, g2r, g2i, g3r, g3i] = gk as [Float64Array, Float64Array, Float64Array, Float64Array, Float64Array, Float64Array, Float64Array, Float64Array];
  for (let h = 0; h < H; h++) {
    // ĝ_X: the adjoint of the inverse real DFT.
    for (let l = 0; l < L; l++) gr[l] = dy[h * L + l]!;
    gi.fill(0);
    dftInPlace(gr, gi, false, tw);
    const ch = channelArrays(x, h, M);
    const v = numerators(ch, M);
    const dt = ch.dt;
    let gDt = 0;
    // Pass 1: the Woodbury step per frequency.
    for (let k = 0; k < F; k++) {
      const wk = halfWeight(k, L) / L;
      const gxR = wk * gr[k]!;
      const gxI = k === 0 || 2 * k === L ? 0 : wk * gi[k]!;
      const sRe = dt * oRe[k]!;
      const sIm = dt * oIm[k]!;
      cauchyAt(ch, v, M, aRe[k]!, aIm[k]!, sRe, sIm, kr, ki);
      const w = woodbury(kr, ki, sRe, sIm, dt);
      gDt += 2 * (gxR * (kr[0]! - w.wRe) + gxI * (ki[0]! - w.wIm));
      g0r[k] = 2 * dt * gxR;
      g0i[k] = 2 * dt * gxI;
      const gwR = -2 * dt * gxR;
      const gwI = -2 * dt * gxI;
      // W = s k1 k2 · inv: ∂W/∂s = k12 inv, ∂W/∂k1 = s k2 inv, ∂W/∂k2 = s k1 inv, ∂W/∂den = −W inv.
      const [k12invR, k12invI] = mul(w.k12r, w.k12i, w.invRe, w.invIm);
      let [gsR, gsI] = mulConj(gwR, gwI, k12invR, k12invI);
      const [sinvR, sinvI] = mul(sRe, sIm, w.invRe, w.invIm);
      const [dk1R, dk1I] = mul(sinvR, sinvI, kr[2]!, ki[2]!);
      const [dk2R, dk2I] = mul(sinvR, sinvI, kr[1]!, ki[1]!);
      [g1r[k], g1i[k]] = mulConj(gwR, gwI, dk1R, dk1I);
      [g2r[k], g2i[k]] = mulConj(gwR, gwI, dk2R, dk2I);
      const [wInvR, wInvI] = mul(w.wRe, w.wIm, w.invRe, w.invIm);
      const [gdenR, gdenI] = mulConj(gwR, gwI, -wInvR, -wInvI);
      // den = 1 + s k3
      const [a1, a2] = mulConj(gdenR, gdenI, kr[3]!, ki[3]!);
      gsR += a1;
      gsI += a2;
      [g3r[k], g3i[k]] = mulConj(gdenR, gdenI, sRe, sIm);
      // s = Δ(1 + ω)
      gDt += gsR * oRe[k]! + gsI * oIm[k]!;
    }
    // Pass 2: per mode, over frequencies.
    for (let n = 0; n < M; n++) {
      const lre = ch.lr[n]!;
      const lim = ch.li[n]!;
      const a0 = v.v0r[n]!;
      const b0 = v.v0i[n]!;
      const a1 = v.v1r[n]!;
      const b1 = v.v1i[n]!;
      const a2 = v.v2r[n]!;
      const b2 = v.v2i[n]!;
      const a3 = v.v3r[n]!;
      let gv0R = 0;
      let gv0I = 0;
      let gv1R = 0;
      let gv1I = 0;
      let gv2R = 0;
      let gv2I = 0;
      let gv3R = 0;
      let gLamR = 0;
      let gLamI = 0;
      for (let k = 0; k < F; k++) {
        const sRe = dt * oRe[k]!;
        const sIm = dt * oIm[k]!;
        const aR = aRe[k]!;
        const aI = aIm[k]!;
        const dRe = aR - (sRe * lre - sIm * lim);
        const dIm = aI - (sRe * lim + sIm * lre);
        const eRe = aR - (sRe * lre + sIm * lim);
        const eIm = aI - (sIm * lre - sRe * lim);
        const dInv = 1 / (dRe * dRe + dIm * dIm);
        const eInv = 1 / (eRe * eRe + eIm * eIm);
        const r0 = dRe * dInv;
        const r1 = -dIm * dInv;
        const q0 = eRe * eInv;
        const q1 = -eIm * eInv;
        const S0 = r0 + q0;
        const S1 = r1 + q1;
        const D0 = r0 - q0;
        const D1 = r1 - q1;
        const h0r = g0r[k]!;
        const h0i = g0i[k]!;
        const h1r = g1r[k]!;
        const h1i = g1i[k]!;
        const h2r = g2r[k]!;
        const h2i = g2i[k]!;
        const h3r = g3r[k]!;
        const h3i = g3i[k]!;
        // ĝ_v += ĝ_k conj(r) + conj(ĝ_k) q: Re = gR S0 + gI S1, Im = gI D0 − gR D1
        gv0R += h0r * S0 + h0i * S1;
        gv0I += h0i * D0 - h0r * D1;
        gv1R += h1r * S0 + h1i * S1;
        gv1I += h1i * D0 - h1r * D1;
        gv2R += h2r * S0 + h2i * S1;
        gv2I += h2i * D0 - h2r * D1;
        gv3R += h3r * S0 + h3i * S1;
        // ĝ_r = Σ_j ĝ_kj conj(v_j), ĝ_q = Σ_j ĝ_kj v_j (v3 real)
        const grR = h0r * a0 + h0i * b0 + h1r * a1 + h1i * b1 + h2r * a2 + h2i * b2 + h3r * a3;
        const grI = h0i * a0 - h0r * b0 + h1i * a1 - h1r * b1 + h2i * a2 - h2r * b2 + h3i * a3;
        const gqR = h0r * a0 - h0i * b0 + h1r * a1 - h1i * b1 + h2r * a2 - h2i * b2 + h3r * a3;
        const gqI = h0r * b0 + h0i * a0 + h1r * b1 + h1i * a1 + h2r * b2 + h2i * a2 + h3i * a3;
        // ĝ_d = −ĝ_r conj(r²), ĝ_d̄ = −ĝ_q conj(q²)
        const r2R = r0 * r0 - r1 * r1;
        const r2I = 2 * r0 * r1;
        const q2R = q0 * q0 - q1 * q1;
        const q2I = 2 * q0 * q1;
        const gdR = -(grR * r2R + grI * r2I);
        const gdI = -(grI * r2R - grR * r2I);
        const geR = -(gqR * q2R + gqI * q2I);
        const geI = -(gqI * q2R - gqR * q2I);
        // ĝ_λ −= ĝ_d conj(s) + conj(ĝ_d̄) s
        gLamR -= gdR * sRe + gdI * sIm + (geR * sRe + geI * sIm);
        gLamI -= gdI * sRe - gdR * sIm + (geR * sIm - geI * sRe);
        // ĝ_s −= ĝ_d conj(λ) + ĝ_d̄ λ, then ∂ℓ/∂Δ += Re(conj(ĝ_s)(1 + ω))
        const gsR = -(gdR * lre + gdI * lim + (geR * lre - geI * lim));
        const gsI = -(gdI * lre - gdR * lim + (geR * lim + geI * lre));
        gDt += gsR * oRe[k]! + gsI * oIm[k]!;
      }
      const i = h * M + n;
      gLr[i] = gLamR * lre; // λr = −exp(logLambdaReal)
      gLi[i] = gLamI;
      const pr = ch.pr[n]!;
      const pi = ch.pi[n]!;
      const br = ch.br[n]!;
      const bi = ch.bi[n]!;
      const cr = ch.cr[n]!;
      const ci = ch.ci[n]!;
      // v0 = c b: ĝ_c += ĝ_v0 conj(b), ĝ_b += ĝ_v0 conj(c); v1 = c p: ĝ_c += ĝ_v1 conj(p), ĝ_p += ĝ_v1 conj(c)
      // v2 = conj(p) b: ĝ_b += ĝ_v2 p, ĝ_p += conj(ĝ_v2) b; v3 = |p|²: ĝ_p += 2 Re(ĝ_v3) p
      gC[2 * i] = gv0R * br + gv0I * bi + gv1R * pr + gv1I * pi;
      gC[2 * i + 1] = gv0I * br - gv0R * bi + gv1I * pr - gv1R * pi;
      gB[2 * i] = gv0R * cr + gv0I * ci + (gv2R * pr - gv2I * pi);
      gB[2 * i + 1] = gv0I * cr - gv0R * ci + (gv2R * pi + gv2I * pr);
      gP[2 * i] = gv1R * cr + gv1I * ci + (gv2R * br + gv2I * bi) + 2 * gv3R * pr;
      gP[2 * i + 1] = gv1I * cr - gv1R * ci + (gv2R * bi - gv2I * br) + 2 * gv3R * pi;
    }
    gLogDt[h] = gDt * dt;
  }
  return [gLogDt, gLr, gLi, gP, gB, gC];
}

/**
 * The S4 kernel as an op: composite = the tfjs spectrum and a DFT matmul (tfjs differentiates it); fused = the
 * same arithmetic in float64 on the host with an FFT and the hand-derived gradient of s4KernelGradientHost.
 */
const s4KernelOp = defineOp<[tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor], { L: number }>({
  name: 'ssm.s4Kernel',
  validate: null,
  composite: ([logDt, logLambdaReal, LambdaImag, P, B, C], { L }) =>
    tf.tidy(() => {
      const [re, im] = s4NplrSpectrum({ logDt, logLambdaReal, LambdaImag, P, B, C }, L);
      return irfftComposite(re, im, L);
    }),
  fused: {
    backends: ['cpu', 'wasm'],
    forward: (x, { L }) => ({ outputs: [{ data: s4KernelForwardHost(x, L), shape: [x[0].shape[0]!, L] }] }),
  },
  gradient: (dy, { inputs, attrs: { L } }) => {
    const host = inputs.map((t) => ({ data: Float32Array.from(t.dataSync()), shape: t.shape }));
    const grads = s4KernelGradientHost(host, dy.dataSync() as Float32Array, L);
    return grads.map((g, i) => fromHost({ data: g, shape: inputs[i]!.shape })) as [
      tf.Tensor,
      tf.Tensor,
      tf.Tensor,
      tf.Tensor,
      tf.Tensor,
      tf.Tensor,
    ];
  },
});
