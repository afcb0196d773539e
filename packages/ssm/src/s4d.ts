/**
 * S4D convolution kernels (Gu et al. 2022, "On the Parameterization and Initialization of Diagonal State
 * Space Models"), as state-spaces/s4 `S4DKernel`: a diagonal complex SSM with A = −exp(logAReal) + i·AImag,
 * step Δ = exp(logDt), discretized by zero-order hold or bilinear, unrolled into K [H, L]. Written with
 * real-valued tfjs ops (real and imaginary parts carried separately), so it is differentiable on every backend.
 */
import * as tf from '@tensorflow/tfjs-core';
import { assertKnownOptions, assertOneOf, assertPositiveInteger, assertRank, assertShape } from '@lab/tensor';

/** The parameters of {@link s4dKernel} (state-spaces/s4 `S4DKernel` names). */
export interface S4DKernelParams {
  /** log Δ per channel: [H]. */
  logDt: tf.Tensor;
  /** C as (real, imaginary) pairs: [H, N/2, 2]. */
  C: tf.Tensor;
  /** log(−Re A): [H, N/2]. */
  logAReal: tf.Tensor;
  /** Im A: [H, N/2]. */
  AImag: tf.Tensor;
}

export interface S4DKernelOptions {
  /** 'zoh' (S4D's default): B̄ = (exp(ΔA) − 1)/A; 'bilinear': Ā = (1 + ΔA/2)/(1 − ΔA/2), B̄ = Δ/(1 − ΔA/2). */
  discretization?: 'zoh' | 'bilinear';
}

/**
 * The S4D convolution kernel (Gu et al. 2022, S4D; state-spaces/s4 `S4DKernel.forward`):
 *   K[h, l] = 2 · Re Σ_n C[h, n] · B̄[h, n] · Ā[h, n]^l,  Ā = exp(ΔA) (zoh), B̄ = (exp(ΔA) − 1)/A
 * (B is folded into C, as in S4D). Shapes: logDt [H], C [H, N/2, 2] (re, im), logAReal [H, N/2],
 * AImag [H, N/2]; returns K [H, L]. Differentiable in all parameters.
 */
export function s4dKernel(params: S4DKernelParams, L: number, options: S4DKernelOptions = {}): tf.Tensor2D {
  const fn = 'ssm.s4dKernel';
  assertKnownOptions(fn, options as Record<string, unknown>, ['discretization']);
  const { logDt, C, logAReal, AImag } = params;
  assertRank(fn, 'logDt', logDt, 1, '[H]');
  const H = logDt.shape[0]!;
  assertRank(fn, 'logAReal', logAReal, 2, '[H, N/2]');
  const half = logAReal.shape[1]!;
  assertShape(fn, 'logAReal', logAReal, [H, half], '[H, N/2]');
  assertShape(fn, 'AImag', AImag, [H, half], '[H, N/2]');
  assertShape(fn, 'C', C, [H, half, 2], '[H, N/2, 2] (re, im)');
  assertPositiveInteger(fn, 'L', L);
  const discretization = options.discretization ?? 'zoh';
  assertOneOf(fn, 'options.discretization', discretization, ['zoh', 'bilinear']);

  return tf.tidy(() => {
    const dt = tf.reshape(tf.exp(logDt), [H, 1]); // [H, 1]
    const aRe = tf.neg(tf.exp(logAReal)); // [H, N/2]
    const aIm = AImag; // [H, N/2]
    const [cRe, cIm] = tf.unstack(C, 2) as [tf.Tensor, tf.Tensor]; // [H, N/2] each
    const dtaRe = tf.mul(aRe, dt); // Re ΔA
    const dtaIm = tf.mul(aIm, dt); // Im ΔA
    const l = tf.reshape(tf.range(0, L, 1, 'float32'), [1, 1, L]); // [1, 1, L]
    let bRe: tf.Tensor; // B̄ (with B = 1)
    let bIm: tf.Tensor;
    let powRe: tf.Tensor; // Ā^l [H, N/2, L]
    let powIm: tf.Tensor;
    if (discretization === 'zoh') {
      // (exp(ΔA) − 1) / A
      const mag = tf.exp(dtaRe);
      const numRe = tf.sub(tf.mul(mag, tf.cos(dtaIm)), 1);
      const numIm = tf.mul(mag, tf.sin(dtaIm));
      [bRe, bIm] = complexDivide(numRe, numIm, aRe, aIm);
      // exp(ΔA l) = exp(Re ΔA · l) (cos(Im ΔA · l) + i sin(Im ΔA · l))
      const r = tf.exp(tf.mul(tf.expandDims(dtaRe, 2), l));
      const phase = tf.mul(tf.expandDims(dtaIm, 2), l);
      powRe = tf.mul(r, tf.cos(phase));
      powIm = tf.mul(r, tf.sin(phase));
    } else {
      // Ā = (1 + ΔA/2) / (1 − ΔA/2), B̄ = Δ / (1 − ΔA/2); Ā^l in polar form.
      const hRe = tf.mul(dtaRe, 0.5);
      const hIm = tf.mul(dtaIm, 0.5);
      const denRe = tf.sub(1, hRe);
      const denIm = tf.neg(hIm);
      const [daRe, daIm] = complexDivide(tf.add(1, hRe), hIm, denRe, denIm);
      [bRe, bIm] = complexDivide(tf.mul(tf.onesLike(denRe), dt), tf.zerosLike(denIm), denRe, denIm);
      const logMag = tf.mul(0.5, tf.log(tf.add(tf.square(daRe), tf.square(daIm))));
      const angle = tf.atan2(daIm, daRe);
      const r = tf.exp(tf.mul(tf.expandDims(logMag, 2), l));
      const phase = tf.mul(tf.expandDims(angle, 2), l);
      powRe = tf.mul(r, tf.cos(phase));
      powIm = tf.mul(r, tf.sin(phase));
    }
    // C · B̄
    const cbRe = tf.sub(tf.mul(cRe, bRe), tf.mul(cIm, bIm));
    const cbIm = tf.add(tf.mul(cRe, bIm), tf.mul(cIm, bRe));
    // 2 Re Σ_n (C B̄)_n Ā_n^l
    const re = tf.sub(tf.mul(tf.expandDims(cbRe, 2), powRe), tf.mul(tf.expandDims(cbIm, 2), powIm));
    return tf.mul(tf.sum(re, 1), 2) as tf.Tensor2D;
  });
}

/** (a + ib) / (c + id) on separate real and imaginary tensors. */
function complexDivide(a: tf.Tensor, b: tf.Tensor, c: tf.Tensor, d: tf.Tensor): [tf.Tensor, tf.Tensor] {
  const den = tf.add(tf.square(c), tf.square(d));
  return [tf.div(tf.add(tf.mul(a, c), tf.mul(b, d)), den), tf.div(tf.sub(tf.mul(b, c), tf.mul(a, d)), den)];
}

/** The S4D initializations of A (Gu et al. 2022, S4D, Section 4). */
export type S4DInit = 'lin' | 'inv' | 'real';

/**
 * Initial A = −exp(logAReal) + i·AImag for H channels and N/2 modes (Gu et al. 2022, S4D, Section 4):
 *   lin:  A_n = −½ + iπn                       (S4D-Lin, the S4DKernel default)
 *   inv:  A_n = −½ + i(N/π)(N/(2n+1) − 1)     (S4D-Inv)
 *   real: A_n = −(n+1)                         (S4D-Real)
 * Returns logAReal [H, N/2] and AImag [H, N/2] as Float32Array.
 */
export function s4dInitA(init: S4DInit, H: number, N: number): { logAReal: Float32Array; AImag: Float32Array } {
  const half = N >> 1;
  const logAReal = new Float32Array(H * half);
  const AImag = new Float32Array(H * half);
  for (let h = 0; h < H; h++) {
    for (let n = 0; n < half; n++) {
      const i = h * half + n;
      if (init === 'real') {
        logAReal[i] = Math.log(n + 1);
        AImag[i] = 0;
      } else {
        logAReal[i] = Math.log(0.5);
        AImag[i] = init === 'lin' ? Math.PI * n : (N / Math.PI) * (N / (2 * n + 1) - 1);
      }
    }
  }
  return { logAReal, AImag };
}
