import * as tf from '@tensorflow/tfjs-core';
import { initBackend, testing } from '@lab/tensor';
import { beforeAll, describe, expect, it } from 'vitest';
import { discretize, expm64, type HippoMeasure, hippo, hippoProject, hippoReconstruct, s4dKernel } from '../src/index.js';
import fixture from './fixtures/ssm.json';

type Arr = testing.FixtureArray;
const H = fixture.hippo as unknown as Record<HippoMeasure, Record<string, Arr> & { N: number; dt: number }>;
const measures: HippoMeasure[] = ['legs', 'legt', 'lagt', 'fout'];

describe.each(['cpu', 'wasm'] as const)('%s', (backend) => {
  beforeAll(async () => {
    await initBackend(backend);
  });

  describe.each(measures)('hippo %s', (measure) => {
    const f = H[measure];
    it('A and B equal s4 transition() (≤ 1e-6)', () => {
      const { A, B } = hippo(measure, f.N);
      expect(A.shape).toEqual([f.N, f.N]);
      expect(testing.relativeError(A.dataSync(), testing.fixtureData(f.A!))).toBeLessThan(1e-6);
      expect(testing.relativeError(B.dataSync(), testing.fixtureData(f.B!))).toBeLessThan(1e-6);
      tf.dispose([A, B]);
    });
    it.each(['bilinear', 'zoh'] as const)('%s discretization equals scipy cont2discrete (≤ 1e-6)', (method) => {
      const { A, B } = hippo(measure, f.N);
      const d = discretize(A, B, f.dt, method);
      expect(testing.relativeError(d.A.dataSync(), testing.fixtureData(f[`${method}_A`]!))).toBeLessThan(1e-6);
      expect(testing.relativeError(d.B.dataSync(), testing.fixtureData(f[`${method}_B`]!))).toBeLessThan(1e-6);
      tf.dispose([A, B, d.A, d.B]);
    });
  });

  it('euler and backward euler agree with zoh to first order and with each other to O(dt²)', () => {
    const { A, B } = hippo('legs', 6);
    const errs = [1e-2, 1e-3].map((dt) => {
      const z = discretize(A, B, dt, 'zoh');
      const e = discretize(A, B, dt, 'euler');
      const b = discretize(A, B, dt, 'backward-euler');
      const r = [testing.maxAbsError(e.A.dataSync(), z.A.dataSync()), testing.maxAbsError(b.A.dataSync(), z.A.dataSync())];
      tf.dispose([z.A, z.B, e.A, e.B, b.A, b.B]);
      return r;
    });
    // Local error O(dt²): ten times smaller dt, about a hundred times smaller error.
    expect(errs[0]![0]! / errs[1]![0]!).toBeGreaterThan(60);
    expect(errs[0]![1]! / errs[1]![1]!).toBeGreaterThan(60);
    tf.dispose([A, B]);
  });

  it('s4dKernel equals state-spaces S4DKernel (≤ 1e-5)', () => {
    const s = fixture.s4d as unknown as Record<string, Arr> & { L: number };
    const K = s4dKernel(
      {
        logDt: testing.fixtureTensor(s.log_dt!),
        C: testing.fixtureTensor(s.C_re_im!),
        logAReal: testing.fixtureTensor(s.log_A_real!),
        AImag: testing.fixtureTensor(s.A_imag!),
      },
      s.L,
    );
    expect(K.shape).toEqual([3, 32]);
    expect(testing.relativeError(K.dataSync(), testing.fixtureData(s.kernel!))).toBeLessThan(1e-5);
  });
});

describe('expm64', () => {
  it('matches exp of a diagonalizable matrix and the rotation formula', () => {
    // exp([[0, -t], [t, 0]]) = [[cos t, -sin t], [sin t, cos t]], at a norm that needs squaring.
    const t = 37.5;
    const E = expm64(Float64Array.from([0, -t, t, 0]), 2);
    expect(Math.abs(E[0]! - Math.cos(t))).toBeLessThan(1e-12);
    expect(Math.abs(E[2]! - Math.sin(t))).toBeLessThan(1e-12);
    // Upper triangular [[a, 1], [0, b]]: off-diagonal (e^a − e^b)/(a − b).
    const a = -3;
    const b = 0.5;
    const U = expm64(Float64Array.from([a, 1, 0, b]), 2);
    expect(Math.abs(U[1]! - (Math.exp(a) - Math.exp(b)) / (a - b))).toBeLessThan(1e-14);
  });
});

describe('errors', () => {
  it('names function and argument', () => {
    expect(() => hippo('legx' as HippoMeasure, 4)).toThrow(/ssm\.hippo: measure must be one of/);
    expect(() => hippo('legs', 0)).toThrow(/ssm\.hippo: N must be/);
    const A = tf.zeros([3, 3]);
    expect(() => discretize(A, tf.zeros([4]), 0.1, 'zoh')).toThrow(/ssm\.discretize: B\.shape\[0\]/);
    expect(() => discretize(A, tf.zeros([3]), -1, 'zoh')).toThrow(/ssm\.discretize: dt must be/);
  });
});

describe('HiPPO online approximation', () => {
  const L = 1000;
  const dt = 1 / L;
  const f = (t: number) => Math.sin(2 * Math.PI * 2 * t) + 0.3 * Math.cos(2 * Math.PI * 3 * t);
  const signal = Float64Array.from({ length: L }, (_, k) => f(k * dt));
  const tEnd = (L - 1) * dt;
  const worst = (rec: Float64Array, truth: (frac: number) => number, from = 0, to = 1) => {
    let w = 0;
    rec.forEach((v, i) => {
      const frac = i / (rec.length - 1);
      if (frac >= from && frac <= to) w = Math.max(w, Math.abs(v - truth(frac)));
    });
    return w;
  };

  it('legs reconstructs the whole history', () => {
    const c = hippoProject(signal, 'legs', { N: 24 });
    const rec = hippoReconstruct(c.subarray((L - 1) * 24), 'legs', 200);
    expect(worst(rec, (x) => f(x * tEnd), 0.02, 0.98)).toBeLessThan(0.02);
  });

  it('legt reconstructs the last θ', () => {
    const theta = 0.5;
    const c = hippoProject(signal, 'legt', { N: 16, dt, theta });
    const rec = hippoReconstruct(c.subarray((L - 1) * 16), 'legt', 200, { theta });
    expect(worst(rec, (x) => f(tEnd - (1 - x) * theta), 0.05, 0.95)).toBeLessThan(0.02);
    // A window of the wrong length does not fit: the test can fail.
    const wrong = hippoReconstruct(c.subarray((L - 1) * 16), 'legt', 200, { theta: 0.25 });
    expect(worst(wrong, (x) => f(tEnd - (1 - x) * 0.25), 0.05, 0.95)).toBeGreaterThan(0.1);
  });

  it('fout reconstructs the last θ (Fourier series: slower, O(1/N) at the window edges)', () => {
    const theta = 0.5;
    const err = (N: number) => {
      const c = hippoProject(signal, 'fout', { N, dt, theta });
      const rec = hippoReconstruct(c.subarray((L - 1) * N), 'fout', 200, { theta });
      return worst(rec, (x) => f(tEnd - (1 - x) * theta), 0.05, 0.95);
    };
    const e16 = err(16);
    const e64 = err(64);
    expect(e16).toBeLessThan(0.15);
    expect(e64).toBeLessThan(0.6 * e16);
  });

  it('lagt reconstructs the recent past', () => {
    const c = hippoProject(signal, 'lagt', { N: 16, dt, timescale: 20 });
    const rec = hippoReconstruct(c.subarray((L - 1) * 16), 'lagt', 200, { timescale: 20, span: 0.3 });
    expect(worst(rec, (x) => f(tEnd - (1 - x) * 0.3), 0.7, 1)).toBeLessThan(0.03);
  });
});
