/**
 * S4D convolution kernels (Gu et al. 2022, "On the Parameterization and Initialization of Diagonal State
 * Space Models"), as state-spaces/s4 `S4DKernel`: a diagonal complex SSM with A = −exp(logAReal) + i·AImag,
 * step Δ = exp(logDt), discretized by zero-order hold or bilinear, unrolled into K [H, L]. Written with
 * real-valued tfjs ops (real and imaginary parts carried separately), so it is differentiable on every backend.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  assertKnownOptions,
  assertOneOf,
  assertPositiveInteger,
  assertRank,
  assertShape,
  type CallOptions,
  defineOp,
  fromHost,
  type HostTensor,
} from '@lab/tensor';

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

export interface S4DKernelOptions extends CallOptions {
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
  assertKnownOptions(fn, options as Record<string, unknown>, ['discretization', 'impl']);
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
  if (discretization === 'zoh') {
    return s4dZohOp([logDt, C, logAReal, AImag], { L }, { impl: options.impl })[0] as tf.Tensor2D;
  }
  return s4dKernelComposite(params, L, discretization);
}

/** The kernel in tfjs ops (real and imaginary parts carried separately): the reference, any backend. */
function s4dKernelComposite(params: S4DKernelParams, L: number, discretization: 'zoh' | 'bilinear'): tf.Tensor2D {
  const { logDt, C, logAReal, AImag } = params;
  const H = logDt.shape[0]!;
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

/** Per (h, n): z = exp(Δ a), B̄ = (z − 1)/a, W = C·B̄ (complex), from host parameters. */
function zohModes(logDt: Float32Array, C: Float32Array, logAReal: Float32Array, AImag: Float32Array, H: number, half: number) {
  const size = H * half;
  const m = {
    dt: new Float64Array(H),
    ar: new Float64Array(size),
    ai: new Float64Array(size),
    zr: new Float64Array(size),
    zi: new Float64Array(size),
    br: new Float64Array(size),
    bi: new Float64Array(size),
    wr: new Float64Array(size),
    wi: new Float64Array(size),
  };
  for (let h = 0; h < H; h++) {
    const dt = Math.exp(logDt[h]!);
    m.dt[h] = dt;
    for (let n = 0; n < half; n++) {
      const i = h * half + n;
      const ar = -Math.exp(logAReal[i]!);
      const ai = AImag[i]!;
      const mag = Math.exp(dt * ar);
      const zr = mag * Math.cos(dt * ai);
      const zi = mag * Math.sin(dt * ai);
      const den = ar * ar + ai * ai;
      const br = ((zr - 1) * ar + zi * ai) / den; // (z − 1)/a
      const bi = (zi * ar - (zr - 1) * ai) / den;
      const cr = C[2 * i]!;
      const ci = C[2 * i + 1]!;
      m.ar[i] = ar;
      m.ai[i] = ai;
      m.zr[i] = zr;
      m.zi[i] = zi;
      m.br[i] = br;
      m.bi[i] = bi;
      m.wr[i] = cr * br - ci * bi;
      m.wi[i] = cr * bi + ci * br;
    }
  }
  return m;
}

/** K[h, l] = 2 Re Σ_n W_n z_n^l by the recurrence p ← p·z (float64), O(H·N·L) with no transcendental per l. */
function s4dZohForwardHost(x: HostTensor[], L: number): Float32Array {
  const [logDt, C, logAReal, AImag] = x as [HostTensor, HostTensor, HostTensor, HostTensor];
  const H = logDt.shape[0]!;
  const half = logAReal.shape[1]!;
  const m = zohModes(logDt.data, C.data, logAReal.data, AImag.data, H, half);
  const K = new Float64Array(H * L);
  for (let h = 0; h < H; h++) {
    for (let n = 0; n < half; n++) {
      const i = h * half + n;
      let pr = m.wr[i]!;
      let pi = m.wi[i]!;
      const zr = m.zr[i]!;
      const zi = m.zi[i]!;
      for (let l = 0; l < L; l++) {
        K[h * L + l]! += 2 * pr;
        const t = pr * zr - pi * zi;
        pi = pr * zi + pi * zr;
        pr = t;
      }
    }
  }
  return Float32Array.from(K);
}

/**
 * The S4D ZOH kernel as an op: composite = the tfjs reference; fused = the host recurrence; gradient on the host
 * with S_n = Σ_l g_l z^l and T_n = Σ_l g_l l z^{l−1}: ĝ_W = 2 conj(S), ĝ_z = 2 conj(W T), then the chain through
 * W = C B̄, B̄ = (z − 1)/a, z = exp(Δ a) (ĝ = ∂/∂Re + i ∂/∂Im; ĝ_v = ĝ_w conj(f′(v)) for holomorphic w = f(v)).
 */
const s4dZohOp = defineOp<[tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor], { L: number }>({
  name: 'ssm.s4dKernel',
  validate: null,
  composite: ([logDt, C, logAReal, AImag], { L }) => s4dKernelComposite({ logDt, C, logAReal, AImag }, L, 'zoh'),
  fused: {
    backends: ['cpu', 'wasm'],
    forward: (x, { L }) => ({ outputs: [{ data: s4dZohForwardHost(x, L), shape: [x[0].shape[0]!, L] }] }),
  },
  gradient: (dy, { inputs: [logDt, C, logAReal, AImag], attrs: { L } }) => {
    const H = logDt.shape[0]!;
    const half = logAReal.shape[1]!;
    const cData = C.dataSync() as Float32Array;
    const m = zohModes(
      logDt.dataSync() as Float32Array,
      cData,
      logAReal.dataSync() as Float32Array,
      AImag.dataSync() as Float32Array,
      H,
      half,
    );
    const g = dy.dataSync() as Float32Array;
    const gLogDt = new Float32Array(H);
    const gC = new Float32Array(H * half * 2);
    const gLogAReal = new Float32Array(H * half);
    const gAImag = new Float32Array(H * half);
    for (let h = 0; h < H; h++) {
      const dt = m.dt[h]!;
      let gDt = 0;
      for (let n = 0; n < half; n++) {
        const i = h * half + n;
        const zr = m.zr[i]!;
        const zi = m.zi[i]!;
        // S = Σ g_l z^l, T = Σ g_l l z^{l−1}
        let sr = 0;
        let si = 0;
        let tr = 0;
        let ti = 0;
        let pr = 1; // z^l
        let pi = 0;
        let qr = 0; // z^{l−1} (0 at l = 0)
        let qi = 0;
        for (let l = 0; l < L; l++) {
          const gl = g[h * L + l]!;
          sr += gl * pr;
          si += gl * pi;
          tr += gl * l * qr;
          ti += gl * l * qi;
          qr = pr;
          qi = pi;
          const t = pr * zr - pi * zi;
          pi = pr * zi + pi * zr;
          pr = t;
        }
        // ĝ_W = 2 conj(S); ĝ_z = 2 conj(W T)
        const gWr = 2 * sr;
        const gWi = -2 * si;
        const wtR = m.wr[i]! * tr - m.wi[i]! * ti;
        const wtI = m.wr[i]! * ti + m.wi[i]! * tr;
        let gZr = 2 * wtR;
        let gZi = -2 * wtI;
        // W = C·B̄: ĝ_C = ĝ_W conj(B̄), ĝ_B̄ = ĝ_W conj(C)
        const br = m.br[i]!;
        const bi = m.bi[i]!;
        const cr = cData[2 * i]!;
        const ci = cData[2 * i + 1]!;
        gC[2 * i] = gWr * br + gWi * bi;
        gC[2 * i + 1] = gWi * br - gWr * bi;
        const gBr = gWr * cr + gWi * ci;
        const gBi = gWi * cr - gWr * ci;
        // B̄ = (z − 1)/a: ĝ_z += ĝ_B̄ conj(1/a); ĝ_a = ĝ_B̄ conj(−(z − 1)/a²) = ĝ_B̄ conj(−B̄/a)
        const ar = m.ar[i]!;
        const ai = m.ai[i]!;
        const den = ar * ar + ai * ai;
        const invR = ar / den; // 1/a
        const invI = -ai / den;
        gZr += gBr * invR + gBi * invI;
        gZi += gBi * invR - gBr * invI;
        const nbR = -(br * invR - bi * invI); // −B̄/a
        const nbI = -(br * invI + bi * invR);
        let gAr = gBr * nbR + gBi * nbI;
        let gAi = gBi * nbR - gBr * nbI;
        // z = exp(Δ a): ĝ_(Δa) = ĝ_z conj(z); ĝ_a += Δ ĝ_(Δa); ∂L/∂Δ += Re(ĝ_(Δa) conj(a))
        const gVr = gZr * zr + gZi * zi;
        const gVi = gZi * zr - gZr * zi;
        gAr += dt * gVr;
        gAi += dt * gVi;
        gDt += gVr * ar + gVi * ai;
        // a = −exp(logAReal) + i AImag
        gLogAReal[i] = gAr * ar;
        gAImag[i] = gAi;
      }
      gLogDt[h] = gDt * dt;
    }
    return [
      fromHost({ data: gLogDt, shape: logDt.shape }),
      fromHost({ data: gC, shape: C.shape }),
      fromHost({ data: gLogAReal, shape: logAReal.shape }),
      fromHost({ data: gAImag, shape: AImag.shape }),
    ];
  },
});
