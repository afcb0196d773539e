import * as tf from '@tensorflow/tfjs-core';
import { createRng, initBackend, testing } from '@lab/tensor';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  irfft,
  nplrLegS,
  type S4KernelParams,
  s4Kernel,
  s4NplrDenseHost,
  s4NplrDiscrete,
  s4NplrKernel,
  s4NplrLegSInit,
  s4NplrParamsFromHost,
  s4NplrParamsToHost,
  s4dKernel,
  solveRows,
} from '../src/index.js';
import { irfftSpectral } from '../src/s4-kernel.js';

/** K[h, l] = C Ā^l B̄ unrolled with the dense float64 recurrence (independent of the Cauchy/Woodbury path). */
function densePowers(params: S4KernelParams, L: number): Float64Array {
  const host = s4NplrParamsToHost(params);
  const { H, N } = host;
  const d = s4NplrDenseHost(host, L);
  const K = new Float64Array(H * L);
  for (let h = 0; h < H; h++) {
    let x = d.dB.slice(h * N, (h + 1) * N);
    for (let l = 0; l < L; l++) {
      let s = 0;
      for (let i = 0; i < N; i++) s += d.C[h * N + i]! * x[i]!;
      K[h * L + l] = s;
      const next = new Float64Array(N);
      for (let i = 0; i < N; i++) for (let j = 0; j < N; j++) next[i]! += d.dA[h * N * N + i * N + j]! * x[j]!;
      x = next;
    }
  }
  return K;
}

/** Generic trainable-looking parameters: LegS init moved by a random perturbation (Re Λ stays negative). */
function perturbed(seed: number, H: number, N: number, L: number, scale = 0.2): S4KernelParams {
  const rng = createRng(seed);
  const host = s4NplrLegSInit({ H, N, L, dt: Array.from({ length: H }, (_, h) => 0.01 * (h + 1)), CV: rng.normalData(H * N) });
  const p = s4NplrParamsFromHost(host);
  const move = (t: tf.Tensor) => {
    const out = tf.add(t, tf.mul(rng.normal(t.shape), scale));
    t.dispose();
    return out;
  };
  return {
    logDt: move(p.logDt),
    logLambdaReal: move(p.logLambdaReal),
    LambdaImag: move(p.LambdaImag),
    P: move(p.P),
    B: move(p.B),
    C: move(p.C),
  };
}

const order = ['logDt', 'logLambdaReal', 'LambdaImag', 'P', 'B', 'C'] as const;

describe.each(['cpu', 'wasm'] as const)('%s', (backend) => {
  beforeAll(async () => {
    await initBackend(backend);
  });

  it.each([
    [16, 64],
    [16, 50],
    [64, 256],
  ])('at the LegS init (N = %i, L = %i) the kernel equals the float64 s4NplrKernel and the dense powers', (N, L) => {
    const H = 3;
    const dt = [0.004, 0.02, 0.07];
    const C = Float64Array.from({ length: H * N }, (_, i) => Math.cos(1.3 * i + 0.2));
    const params = s4NplrParamsFromHost(s4NplrLegSInit({ H, N, L, dt, C }));
    const form = nplrLegS(N);
    const ref = new Float64Array(H * L);
    for (let h = 0; h < H; h++) ref.set(s4NplrKernel(C.subarray(h * N, (h + 1) * N), dt[h]!, L, form), h * L);
    const dense = densePowers(params, L);
    tf.tidy(() => {
      for (const impl of ['fused', 'composite'] as const) {
        const K = s4Kernel(params, L, { impl }).dataSync();
        expect(testing.relativeError(K, ref), impl).toBeLessThan(1e-4);
        expect(testing.relativeError(K, dense), impl).toBeLessThan(1e-4);
      }
    });
    tf.dispose(Object.values(params));
  });

  it('away from the init (perturbed Λ, P, B, C, Δ) the kernel still equals the dense powers C Ā^l B̄', () => {
    const params = perturbed(11, 2, 8, 40);
    tf.tidy(() => {
      const dense = densePowers(params, 40);
      // The fused path is float64 inside: only the float32 output rounding remains.
      expect(testing.relativeError(s4Kernel(params, 40, { impl: 'fused' }).dataSync(), dense)).toBeLessThan(1e-6);
      expect(testing.relativeError(s4Kernel(params, 40, { impl: 'composite' }).dataSync(), dense)).toBeLessThan(1e-4);
    });
    tf.dispose(Object.values(params));
  });

  it('s4NplrDiscrete (tfjs, Sherman–Morrison) equals the float64 dense bilinear Ā, B̄', () => {
    const params = perturbed(61, 3, 8, 20);
    tf.tidy(() => {
      const { dA, dB } = s4NplrDiscrete(params);
      const host = s4NplrDenseHost(s4NplrParamsToHost(params), 20);
      expect(testing.relativeError(dA.dataSync(), host.dA)).toBeLessThan(1e-5);
      expect(testing.relativeError(dB.dataSync(), host.dB)).toBeLessThan(1e-5);
    });
    tf.dispose(Object.values(params));
  });

  it('solveRows: x M = c, and its custom gradient equals finite differences in c and M', () => {
    tf.tidy(() => {
      const rng = createRng(81);
      const M = tf.add(tf.mul(rng.normal([2, 5, 5]), 0.3), tf.eye(5));
      const c = rng.normal([2, 5]);
      const x = solveRows(c, M);
      const back = tf.sum(tf.mul(tf.expandDims(x, 2), M), 1); // Σ_i x_i M_ij
      expect(testing.relativeError(back.dataSync(), c.dataSync())).toBeLessThan(1e-5);
      expect(testing.gradientCheck((a, b) => solveRows(a!, b!), [c, M], { samples: 8 })).toBeLessThan(1e-2);
    });
  });

  it('with P = 0 and B = 1 the S4 kernel is the bilinear S4D kernel (C̃_n = C_n (1 − Ā_n^L) per mode)', () => {
    const H = 2;
    const M = 4;
    const L = 24;
    const rng = createRng(91);
    const logDt = [Math.log(0.03), Math.log(0.2)];
    const logAReal = Array.from({ length: H * M }, (_, i) => Math.log(0.3 + 0.2 * i));
    const AImag = Array.from({ length: H * M }, (_, i) => 1.5 * i - 3);
    const C = rng.normalData(H * M * 2);
    // C̃ per mode: Ā = (1 + Δa/2)/(1 − Δa/2) in float64, then C (1 − Ā^L).
    const Ct = new Float32Array(H * M * 2);
    for (let h = 0; h < H; h++) {
      const dt = Math.exp(logDt[h]!);
      for (let n = 0; n < M; n++) {
        const i = h * M + n;
        const ar = -Math.exp(logAReal[i]!) * dt * 0.5;
        const ai = AImag[i]! * dt * 0.5;
        const den = (1 - ar) ** 2 + ai ** 2;
        const zr = ((1 + ar) * (1 - ar) - ai * ai) / den;
        const zi = ((1 + ar) * ai + ai * (1 - ar)) / den;
        // z^L by polar form
        const mag = Math.hypot(zr, zi) ** L;
        const ang = Math.atan2(zi, zr) * L;
        const wr = 1 - mag * Math.cos(ang);
        const wi = -mag * Math.sin(ang);
        Ct[2 * i] = C[2 * i]! * wr - C[2 * i + 1]! * wi;
        Ct[2 * i + 1] = C[2 * i]! * wi + C[2 * i + 1]! * wr;
      }
    }
    tf.tidy(() => {
      const ones = tf.tensor3d(Float32Array.from({ length: H * M * 2 }, (_, i) => (i % 2 === 0 ? 1 : 0)), [H, M, 2]);
      const common = { logDt: tf.tensor1d(logDt), logLambdaReal: tf.tensor2d(logAReal, [H, M]), LambdaImag: tf.tensor2d(AImag, [H, M]) };
      const params = { ...common, P: tf.zeros([H, M, 2]), B: ones, C: tf.tensor3d(Ct, [H, M, 2]) };
      const ref = s4dKernel(
        { logDt: common.logDt, C: tf.tensor3d(C, [H, M, 2]), logAReal: common.logLambdaReal, AImag: common.LambdaImag },
        L,
        { discretization: 'bilinear' },
      ).dataSync();
      expect(testing.relativeError(s4Kernel(params, L, { impl: 'fused' }).dataSync(), ref)).toBeLessThan(1e-5);
      expect(testing.relativeError(s4Kernel(params, L, { impl: 'composite' }).dataSync(), ref)).toBeLessThan(1e-5);
    });
  });

  it.each([20, 32, 33, 100])('irfft: host FFT (radix-2, direct, Bluestein) = DFT matmul = a float64 inverse DFT, forward and gradient (L = %i)', (L) => {
    tf.tidy(() => {
      const rng = createRng(L);
      const F = (L >> 1) + 1;
      const re = rng.normal([3, F]);
      const im = rng.normal([3, F]);
      const fused = irfft(re, im, L, { impl: 'fused' });
      const composite = irfft(re, im, L, { impl: 'composite' });
      const r = re.dataSync();
      const i = im.dataSync();
      const ref: number[] = [];
      for (let row = 0; row < 3; row++) {
        for (let l = 0; l < L; l++) {
          // Hermitian full spectrum, imaginary parts at k = 0 and L/2 dropped (numpy irfft).
          let s = 0;
          for (let k = 0; k < L; k++) {
            const kk = k < F ? k : L - k;
            const xr = r[row * F + kk]!;
            const xi = kk === 0 || 2 * kk === L ? 0 : (k < F ? 1 : -1) * i[row * F + kk]!;
            const a = (2 * Math.PI * k * l) / L;
            s += xr * Math.cos(a) - xi * Math.sin(a);
          }
          ref.push(s / L);
        }
      }
      expect(testing.relativeError(fused.dataSync(), ref)).toBeLessThan(1e-6);
      expect(testing.relativeError(composite.dataSync(), ref)).toBeLessThan(1e-5);
      const proj = rng.normal([3, L]);
      const f = (impl: 'fused' | 'composite') => (a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(irfft(a, b, L, { impl }), proj));
      const gf = tf.grads(f('fused'))([re, im]);
      const gc = tf.grads(f('composite'))([re, im]);
      expect(testing.relativeError(gf[0]!.dataSync(), gc[0]!.dataSync())).toBeLessThan(1e-5);
      expect(testing.relativeError(gf[1]!.dataSync(), gc[1]!.dataSync())).toBeLessThan(1e-5);
      // The ignored imaginary parts get no gradient.
      expect(gf[1]!.dataSync()[0]).toBe(0);
      if (L % 2 === 0) expect(gf[1]!.dataSync()[F - 1]).toBe(0);
    });
  });

  it.each(['fused', 'composite'] as const)('gradients w.r.t. every parameter equal finite differences (%s)', (impl) => {
    const params = perturbed(21, 2, 8, 32, 0.1);
    const inputs = order.map((k) => params[k]);
    const f = (...xs: tf.Tensor[]) => {
      const p = Object.fromEntries(order.map((k, j) => [k, xs[j]!])) as unknown as S4KernelParams;
      return s4Kernel(p, 32, { impl });
    };
    // One parameter at a time, so that each is checked on its own scale.
    for (let j = 0; j < order.length; j++) {
      const g = (x: tf.Tensor) => f(...inputs.map((t, i) => (i === j ? x : t)));
      const err = testing.gradientCheck((x) => g(x!), [inputs[j]!], { epsilon: 1e-2, samples: 8, seed: 3 + j });
      expect(err, order[j]).toBeLessThan(1e-3);
    }
    tf.dispose(inputs);
  });

  it('fused kernel (float64 host, hand-derived gradient) equals the tfjs composite, forward and every gradient', () => {
    const params = perturbed(31, 2, 16, 64);
    const inputs = order.map((k) => params[k]);
    tf.tidy(() => {
      const proj = createRng(5).normal([2, 64]);
      const loss = (impl: 'fused' | 'composite') => (...xs: tf.Tensor[]) =>
        tf.sum(tf.mul(s4Kernel(Object.fromEntries(order.map((k, j) => [k, xs[j]!])) as unknown as S4KernelParams, 64, { impl }), proj));
      const gf = tf.grads(loss('fused'))(inputs);
      const gc = tf.grads(loss('composite'))(inputs);
      order.forEach((k, j) => {
        expect(testing.relativeError(gf[j]!.dataSync(), gc[j]!.dataSync()), k).toBeLessThan(1e-4);
      });
    });
    tf.dispose(inputs);
  });

  it.each(['fused', 'composite'] as const)('leaks no tensors (%s, forward and gradient)', (impl) => {
    const params = perturbed(41, 2, 8, 16);
    const inputs = order.map((k) => params[k]);
    const loss = (...xs: tf.Tensor[]) =>
      tf.sum(tf.square(s4Kernel(Object.fromEntries(order.map((k, j) => [k, xs[j]!])) as unknown as S4KernelParams, 16, { impl })));
    const fwd = testing.countLeaks(() => s4Kernel(params, 16, { impl }));
    expect(fwd.leaked).toBe(0);
    fwd.result.dispose();
    const back = testing.countLeaks(() => tf.grads(loss)(inputs));
    expect(back.leaked).toBe(0);
    tf.dispose(back.result);
    tf.dispose(inputs);
  });
});

describe('tfjs FFT path (cpu: the wasm backend has no IFFT kernel)', () => {
  beforeAll(async () => {
    await initBackend('cpu');
  });

  it('irfftSpectral (tf.spectral.irfft + adjoint gradient) equals the host FFT op, forward and gradient', () => {
    tf.tidy(() => {
      const L = 64;
      const rng = createRng(70);
      const re = rng.normal([3, 33]);
      const im = rng.normal([3, 33]);
      const proj = rng.normal([3, L]);
      expect(testing.relativeError(irfftSpectral(re, im, L).dataSync(), irfft(re, im, L, { impl: 'fused' }).dataSync())).toBeLessThan(1e-5);
      const gs = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(irfftSpectral(a, b, L), proj)))([re, im]);
      const gf = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(irfft(a, b, L, { impl: 'fused' }), proj)))([re, im]);
      expect(testing.relativeError(gs[0]!.dataSync(), gf[0]!.dataSync())).toBeLessThan(1e-5);
      expect(testing.relativeError(gs[1]!.dataSync(), gf[1]!.dataSync())).toBeLessThan(1e-5);
    });
    const x = [tf.zeros([1, 33]), tf.ones([1, 33])];
    const leaks = testing.countLeaks(() => tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(irfftSpectral(a, b, 64)))(x));
    expect(leaks.leaked).toBe(0);
    tf.dispose(x);
    testing.disposeAll(leaks.result);
  });

  it('at L = 2048 the composite kernel (which then takes tfjs FFT) equals the fused kernel, forward and gradient', () => {
    const params = perturbed(51, 2, 8, 2048, 0.05);
    const inputs = order.map((k) => params[k]);
    tf.tidy(() => {
      const proj = createRng(52).normal([2, 2048]);
      const loss = (impl: 'fused' | 'composite') => (...xs: tf.Tensor[]) =>
        tf.sum(tf.mul(s4Kernel(Object.fromEntries(order.map((k, j) => [k, xs[j]!])) as unknown as S4KernelParams, 2048, { impl }), proj));
      expect(
        testing.relativeError(s4Kernel(params, 2048, { impl: 'composite' }).dataSync(), s4Kernel(params, 2048, { impl: 'fused' }).dataSync()),
      ).toBeLessThan(1e-4);
      const gf = tf.grads(loss('fused'))(inputs);
      const gc = tf.grads(loss('composite'))(inputs);
      order.forEach((k, j) => {
        expect(testing.relativeError(gf[j]!.dataSync(), gc[j]!.dataSync()), k).toBeLessThan(1e-3);
      });
    });
    tf.dispose(inputs);
  });
});

describe('bad inputs', () => {
  beforeAll(async () => {
    await initBackend('cpu');
  });

  it('s4Kernel, irfft and s4NplrLegSInit name the function and the argument', () => {
    const params = s4NplrParamsFromHost(s4NplrLegSInit({ H: 2, N: 4, L: 8, dt: [0.1, 0.1], CV: new Float32Array(8) }));
    const badP = tf.zeros([2, 3, 2]);
    expect(() => s4Kernel({ ...params, P: badP }, 8)).toThrow(/ssm\.s4Kernel: params\.P must be of shape \[2,2,2\]/);
    expect(() => s4Kernel(params, 0)).toThrow(/ssm\.s4Kernel: L/);
    expect(() => s4Kernel(params, 8, { fft: true } as never)).toThrow(/ssm\.s4Kernel.*fft/);
    expect(() => s4Kernel({ ...params, logDt: tf.zeros([2, 1]) }, 8)).toThrow(/ssm\.s4Kernel: params\.logDt must be rank 1/);
    expect(() => irfft(tf.zeros([2, 4]), tf.zeros([2, 4]), 8)).toThrow(/ssm\.irfft: re must have ⌊L\/2⌋ \+ 1 = 5 columns/);
    expect(() => irfft(tf.zeros([2, 5]), tf.zeros([2, 4]), 8)).toThrow(/ssm\.irfft: im/);
    expect(() => s4NplrLegSInit({ H: 2, N: 5, L: 8, dt: [0.1, 0.1], CV: new Float32Array(10) })).toThrow(/ssm\.s4NplrLegSInit: options\.N must be even/);
    expect(() => s4NplrLegSInit({ H: 2, N: 4, L: 8, dt: [0.1], CV: new Float32Array(8) })).toThrow(/ssm\.s4NplrLegSInit: options\.dt/);
    expect(() => s4NplrLegSInit({ H: 2, N: 4, L: 8, dt: [0.1, -1], CV: new Float32Array(8) })).toThrow(/ssm\.s4NplrLegSInit: options\.dt\[1\]/);
    expect(() => s4NplrLegSInit({ H: 2, N: 4, L: 8, dt: [0.1, 0.1] })).toThrow(/exactly one of options\.C and options\.CV/);
    tf.dispose([...Object.values(params), badP]);
  });
});
