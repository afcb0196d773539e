import * as tf from '@tensorflow/tfjs-core';
import { createRng, initBackend, setForceKernelFallback, testing } from '@lab/tensor';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selectiveScan, selectiveScanChunked } from '../src/index.js';
import { constantTable } from '../src/kernels/constants.js';
import { kernels } from '../src/kernels/module.js';
import { forwardChunks } from '../src/kernels/scan.js';
import fixture from './fixtures/ssm.json';

type Arr = testing.FixtureArray;
const S = fixture.selective_scan as unknown as Record<string, Arr>;
const K = fixture.selective_scan_const as unknown as Record<string, Arr>;
const T = testing.fixtureTensor;

const paths = [
  { name: 'composite', impl: 'composite', fallback: false },
  { name: 'fused wasm', impl: 'fused', fallback: false },
  { name: 'fused fallback', impl: 'fused', fallback: true },
] as const;

/** Random inputs of a full scan: variable or fixed B/C, with D, z, deltaBias, softplus. */
function randomInputs(seed: number, batch: number, dim: number, L: number, N: number, variable = true) {
  const rng = createRng(seed);
  return {
    u: rng.normal([batch, dim, L]),
    delta: tf.mul(rng.normal([batch, dim, L]), 0.5),
    A: tf.neg(tf.exp(rng.normal([dim, N]))),
    B: variable ? rng.normal([batch, N, L]) : rng.normal([dim, N]),
    C: variable ? rng.normal([batch, N, L]) : rng.normal([dim, N]),
    D: rng.normal([dim]),
    z: rng.normal([batch, dim, L]),
    deltaBias: tf.mul(rng.normal([dim]), 0.5),
  };
}

describe.each(['cpu', 'wasm'] as const)('%s', (backend) => {
  beforeAll(async () => {
    await initBackend(backend);
  });
  afterAll(() => setForceKernelFallback(false));

  describe.each(paths)('$name', ({ impl, fallback }) => {
    beforeAll(() => setForceKernelFallback(fallback));
    afterAll(() => setForceKernelFallback(false));

    it('input-dependent B, C with D, z, deltaBias, softplus: out and lastState equal selective_scan_ref (≤ 1e-5)', () => {
      const { out, lastState } = selectiveScan(T(S.u!), T(S.delta!), T(S.A!), T(S.B!), T(S.C!), {
        D: T(S.D!),
        z: T(S.z!),
        deltaBias: T(S.delta_bias!),
        deltaSoftplus: true,
        returnLastState: true,
        impl,
      });
      expect(out.shape).toEqual([2, 4, 20]);
      expect(lastState.shape).toEqual([2, 4, 6]);
      expect(testing.relativeError(out.dataSync(), testing.fixtureData(S.out!))).toBeLessThan(1e-5);
      expect(testing.relativeError(lastState.dataSync(), testing.fixtureData(S.last_state!))).toBeLessThan(1e-5);
    });

    it('fixed B, C without D, z, softplus equals selective_scan_ref (≤ 1e-5)', () => {
      const out = selectiveScan(T(K.u!), T(K.delta!), T(K.A!), T(K.B!), T(K.C!), { impl });
      expect(testing.relativeError(out.dataSync(), testing.fixtureData(K.out!))).toBeLessThan(1e-5);
    });

    it('chunked with state passing equals one shot (odd channel count, padded lanes)', () => {
      tf.tidy(() => {
        const x = randomInputs(3, 2, 7, 24, 5);
        const whole = selectiveScan(x.u, x.delta, x.A, x.B, x.C, {
          D: x.D,
          z: x.z,
          deltaBias: x.deltaBias,
          deltaSoftplus: true,
          returnLastState: true,
          impl,
        });
        let state: tf.Tensor | undefined;
        const pieces: tf.Tensor[] = [];
        for (const [s, e] of [
          [0, 5],
          [5, 16],
          [16, 24],
        ] as const) {
          const sl = (t: tf.Tensor) => tf.slice(t, [0, 0, s], [-1, -1, e - s]);
          const r = selectiveScan(sl(x.u), sl(x.delta), x.A, sl(x.B), sl(x.C), {
            D: x.D,
            z: sl(x.z),
            deltaBias: x.deltaBias,
            deltaSoftplus: true,
            returnLastState: true,
            initialState: state,
            impl,
          });
          pieces.push(r.out);
          state = r.lastState;
        }
        expect(testing.relativeError(tf.concat(pieces, 2).dataSync(), whole.out.dataSync())).toBeLessThan(1e-6);
        expect(testing.relativeError(state!.dataSync(), whole.lastState.dataSync())).toBeLessThan(1e-6);
      });
    });

    it('is causal: output at t has no gradient from inputs after t', () => {
      tf.tidy(() => {
        const x = randomInputs(4, 1, 4, 12, 3);
        const t0 = 5;
        const grads = tf.grads((u: tf.Tensor, delta: tf.Tensor, B: tf.Tensor, C: tf.Tensor, z: tf.Tensor) => {
          const out = selectiveScan(u, delta, x.A, B, C, { D: x.D, z, deltaBias: x.deltaBias, deltaSoftplus: true, impl });
          return tf.sum(tf.slice(out, [0, 0, 0], [-1, -1, t0 + 1]));
        })([x.u, x.delta, x.B, x.C, x.z]);
        for (const g of grads) {
          const future = tf.slice(g, [0, 0, t0 + 1], [-1, -1, -1]);
          const past = tf.slice(g, [0, 0, 0], [-1, -1, t0 + 1]);
          expect(tf.max(tf.abs(future)).dataSync()[0]).toBe(0);
          expect(tf.max(tf.abs(past)).dataSync()[0]).toBeGreaterThan(0);
        }
      });
    });

    it('does not leak tensors', () => {
      const x = randomInputs(5, 2, 4, 6, 3);
      const { leaked } = testing.countLeaks(() =>
        selectiveScan(x.u, x.delta, x.A, x.B, x.C, { D: x.D, z: x.z, returnLastState: true, impl }),
      );
      expect(leaked).toBe(0);
      const { leaked: leakedGrad } = testing.countLeaks(() =>
        tf.grads((u: tf.Tensor, A: tf.Tensor) => tf.sum(selectiveScan(u, x.delta, A, x.B, x.C, { z: x.z, impl })))([x.u, x.A]),
      );
      expect(leakedGrad).toBe(0);
      testing.disposeAll(x);
    });
  });

  // The fused forward keeps 16 states in registers and runs any remaining states one vector at a time; time is
  // vectorised in quads with a partial last quad. These shapes cover every branch (N = 1, 5 → padded to 8,
  // 16, 20 = 16 + 4, 37 = 2 × 16 + 8 padded; L = 1, 3, 7, 33), with and without z, D, bias and an initial state.
  it.each([
    [1, 1, true],
    [5, 3, false],
    [16, 7, true],
    [20, 33, false],
    [37, 9, true],
  ] as const)('fused forward equals the composite for N = %i, L = %i (input-dependent B, C: %s)', (N, L, variable) => {
    tf.tidy(() => {
      const x = randomInputs(11 + N, 2, 3, L, N, variable);
      const initialState = createRng(N).normal([2, 3, N]);
      for (const full of [true, false]) {
        const opts = full
          ? { D: x.D, z: x.z, deltaBias: x.deltaBias, deltaSoftplus: true, initialState, returnLastState: true as const }
          : { returnLastState: true as const };
        const delta = full ? x.delta : tf.abs(x.delta);
        const ref = selectiveScan(x.u, delta, x.A, x.B, x.C, { ...opts, impl: 'composite' });
        const fused = selectiveScan(x.u, delta, x.A, x.B, x.C, { ...opts, impl: 'fused' });
        expect(testing.relativeError(fused.out.dataSync(), ref.out.dataSync())).toBeLessThan(1e-5);
        expect(testing.relativeError(fused.lastState.dataSync(), ref.lastState.dataSync())).toBeLessThan(1e-5);
      }
    });
  });

  // The fused kernels skip the decays' clamps on rows whose Δ·A range they have checked (rowInRange). A pair of
  // rows with one row far out of range takes the clamped path for both; in-range rows with positive Δ·A (no
  // softplus, negative Δ) take the unclamped one; a NaN in Δ must spread as in the reference on either path.
  it('decays out of the unclamped range, positive Δ·A and NaN Δ: fused equals the composite', () => {
    tf.tidy(() => {
      const [batch, dim, L, N] = [2, 4, 33, 16];
      const rng = createRng(41);
      const u = rng.normal([batch, dim, L]);
      const B = rng.normal([batch, N, L]);
      const C = rng.normal([batch, N, L]);
      // Row (b, 0): Δ about 6 against A down to −30, so Δ·A·log₂e reaches −260 (decays below 2^−125).
      // Row (b, 2): Δ slightly negative (no softplus), so Δ·A > 0: growing states, in range.
      const rowScale = tf.tensor([6, 0.3, -0.02, 0.2], [1, dim, 1]);
      const delta = tf.mul(tf.add(tf.abs(rng.normal([batch, dim, L])), 0.5), rowScale);
      const A = tf.concat([tf.reshape(tf.mul(tf.neg(tf.range(1, N + 1)), 2), [1, N]), tf.neg(tf.exp(rng.normal([dim - 1, N])))]);
      for (const [d, opts] of [
        [delta, { returnLastState: true as const }],
        [delta, { D: rng.normal([dim]), z: rng.normal([batch, dim, L]), returnLastState: true as const }],
      ] as const) {
        const ref = selectiveScan(u, d, A, B, C, { ...opts, impl: 'composite' });
        const fused = selectiveScan(u, d, A, B, C, { ...opts, impl: 'fused' });
        expect(testing.relativeError(fused.out.dataSync(), ref.out.dataSync())).toBeLessThan(1e-5);
        expect(testing.relativeError(fused.lastState.dataSync(), ref.lastState.dataSync())).toBeLessThan(1e-5);
      }
      // A NaN at (b = 1, d = 3, t = 5): that row is NaN from t = 5 on, in both, and every other value agrees.
      const mask = tf.buffer([batch, dim, L]);
      mask.set(1, 1, 3, 5);
      const nanDelta = tf.where(tf.cast(mask.toTensor(), 'bool'), tf.fill([batch, dim, L], Number.NaN), tf.abs(delta));
      const ref = selectiveScan(u, nanDelta, A, B, C, { impl: 'composite' }).dataSync();
      const fused = selectiveScan(u, nanDelta, A, B, C, { impl: 'fused' }).dataSync();
      const nanAt = (a: ArrayLike<number>) => Array.from(a, (v, i) => (Number.isNaN(v) ? i : -1)).filter((i) => i >= 0);
      expect(nanAt(fused)).toEqual(nanAt(ref));
      expect(nanAt(ref)).toEqual(Array.from({ length: L - 5 }, (_, t) => (1 * dim + 3) * L + 5 + t));
      const finite = (a: Float32Array) => a.map((v) => (Number.isNaN(v) ? 0 : v));
      expect(testing.relativeError(finite(fused as Float32Array), finite(ref as Float32Array))).toBeLessThan(1e-5);
    });
  });

  // On one thread the fused forward copies u, delta and z into the kernel's memory a chunk of row pairs at a
  // time, just ahead of the kernel. An odd channel count (a last pair of one row) and three batches make the
  // chunks' row ranges uneven; the result must equal the TypeScript fallback's, which the composite checks above.
  it('single-thread forward in several chunks equals the fallback (odd D, 3 batches, every option)', () => {
    tf.tidy(() => {
      const [batch, dim, L, N] = [3, 7, 2048, 16];
      expect(forwardChunks({ batch, dim, length: L, dState: N, deltaSoftplus: true, variableB: true, variableC: true })).toBeGreaterThan(2);
      const x = randomInputs(51, batch, dim, L, N);
      const initialState = createRng(52).normal([batch, dim, N]);
      const opts = { D: x.D, z: x.z, deltaBias: x.deltaBias, deltaSoftplus: true, initialState, returnLastState: true as const, impl: 'fused' as const };
      const fused = selectiveScan(x.u, x.delta, x.A, x.B, x.C, opts);
      setForceKernelFallback(true);
      const ref = selectiveScan(x.u, x.delta, x.A, x.B, x.C, opts);
      setForceKernelFallback(false);
      expect(testing.relativeError(fused.out.dataSync(), ref.out.dataSync())).toBeLessThan(1e-5);
      expect(testing.relativeError(fused.lastState.dataSync(), ref.lastState.dataSync())).toBeLessThan(1e-5);
    });
  });

  it.each([true, false])('chunked parallel form equals the scan, forward and gradient (input-dependent B, C: %s)', (variable) => {
    tf.tidy(() => {
      const x = randomInputs(21, 2, 5, 23, 4, variable);
      const h0 = createRng(22).normal([2, 5, 4]);
      const opts = { D: x.D, z: x.z, deltaBias: x.deltaBias, deltaSoftplus: true, initialState: h0, returnLastState: true as const };
      const ref = selectiveScan(x.u, x.delta, x.A, x.B, x.C, { ...opts, impl: 'composite' });
      const chunked = selectiveScanChunked(x.u, x.delta, x.A, x.B, x.C, { ...opts, chunkSize: 8 }) as { out: tf.Tensor; lastState: tf.Tensor };
      expect(testing.relativeError(chunked.out.dataSync(), ref.out.dataSync())).toBeLessThan(1e-5);
      expect(testing.relativeError(chunked.lastState.dataSync(), ref.lastState.dataSync())).toBeLessThan(1e-5);
      const proj = createRng(23).normal([2, 5, 23]);
      const g1 = tf.grads((u: tf.Tensor, d: tf.Tensor, A: tf.Tensor) =>
        tf.sum(tf.mul(selectiveScan(u, d, A, x.B, x.C, { ...opts, returnLastState: false, impl: 'fused' }), proj)),
      )([x.u, x.delta, x.A]);
      const g2 = tf.grads((u: tf.Tensor, d: tf.Tensor, A: tf.Tensor) =>
        tf.sum(tf.mul(selectiveScanChunked(u, d, A, x.B, x.C, { ...opts, returnLastState: false, chunkSize: 8 }) as tf.Tensor, proj)),
      )([x.u, x.delta, x.A]);
      for (const [i, g] of g1.entries()) expect(testing.relativeError(g2[i]!.dataSync(), g.dataSync())).toBeLessThan(1e-4);
    });
  });

  describe.each([true, false])('gradients (input-dependent B, C: %s)', (variable) => {
    const names = ['u', 'delta', 'A', 'B', 'C', 'D', 'z', 'deltaBias', 'initialState'];
    const run = (impl: 'fused' | 'composite') => (...xs: tf.Tensor[]) => {
      const [u, delta, A, B, C, D, z, deltaBias, initialState] = xs as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
      return selectiveScan(u, delta, A, B, C, { D, z, deltaBias, initialState, deltaSoftplus: true, impl });
    };
    const inputs = () => {
      const x = randomInputs(11, 2, 6, 9, 4, variable);
      return [x.u, x.delta, x.A, x.B, x.C, x.D, x.z, x.deltaBias, createRng(12).normal([2, 6, 4])];
    };

    it.each([false, true])('fused (fallback %s) gradients equal the composite', (fallback) => {
      setForceKernelFallback(fallback);
      tf.tidy(() => {
        const xs = inputs();
        const proj = createRng(13).normal([2, 6, 9]);
        const loss = (impl: 'fused' | 'composite') => (...a: tf.Tensor[]) => tf.sum(tf.mul(run(impl)(...a), proj));
        const gf = tf.grads(loss('fused'))(xs);
        const gc = tf.grads(loss('composite'))(xs);
        gf.forEach((g, i) => {
          expect(g.shape, names[i]).toEqual(xs[i]!.shape);
          expect(testing.relativeError(g.dataSync(), gc[i]!.dataSync()), names[i]).toBeLessThan(2e-5);
        });
      });
      setForceKernelFallback(false);
    });

    // The fused backward recomputes 16 states at a time in registers and any remaining states one vector at a
    // time; these sizes reach both (16, 20 = 16 + 4, 37 → 2 × 16 + 8 padded) with partial last quads in time,
    // and the plain variant (no D, z, bias, softplus, initial state) reaches the other flag branches.
    it.each([
      [16, 7, true],
      [20, 13, false],
      [37, 6, true],
    ] as const)('fused gradients equal the composite for N = %i, L = %i (all options: %s)', (N, L, full) => {
      tf.tidy(() => {
        const x = randomInputs(21 + N, 2, 3, L, N, variable);
        const proj = createRng(N).normal([2, 3, L]);
        const xs = full
          ? [x.u, x.delta, x.A, x.B, x.C, x.D, x.z, x.deltaBias, createRng(22).normal([2, 3, N])]
          : [x.u, tf.abs(x.delta), x.A, x.B, x.C];
        const loss = (impl: 'fused' | 'composite') => (...a: tf.Tensor[]) => {
          const [u, delta, A, B, C, D, z, deltaBias, initialState] = a as tf.Tensor[];
          const opts = full ? { D, z, deltaBias, initialState, deltaSoftplus: true, impl } : { impl };
          return tf.sum(tf.mul(selectiveScan(u!, delta!, A!, B!, C!, opts), proj));
        };
        const gf = tf.grads(loss('fused'))(xs);
        const gc = tf.grads(loss('composite'))(xs);
        gf.forEach((g, i) => {
          expect(testing.relativeError(g.dataSync(), gc[i]!.dataSync()), names[i]).toBeLessThan(2e-5);
        });
      });
    });

    it('fused gradients equal finite differences', () => {
      const xs = inputs();
      const err = testing.gradientCheck(run('fused'), xs, { epsilon: 2e-3, samples: 6 });
      expect(err).toBeLessThan(2e-2);
      testing.disposeAll(xs);
    });
  });
});

describe('polynomial exp, sigmoid and softplus of the kernels', () => {
  it('are within a few ulp of Math', () => {
    const xs = new Float32Array(4096);
    for (let i = 0; i < xs.length; i++) xs[i] = -90 + (180 * i) / xs.length + 1e-3;
    const { e, sg, s } = kernels.withArena((arena) => {
      const px = arena.write(xs);
      const pe = arena.allocF32(xs.length);
      const pg = arena.allocF32(xs.length);
      const ps = arena.allocF32(xs.length);
      kernels.run('math_probe', [arena.write(constantTable()), px, pe, pg, ps, xs.length]);
      return { e: arena.readF32(pe, xs.length), sg: arena.readF32(pg, xs.length), s: arena.readF32(ps, xs.length) };
    });
    let worstExp = 0;
    let worstSigmoid = 0;
    let worstSoftplus = 0;
    for (let i = 0; i < xs.length; i++) {
      const x = xs[i]!;
      // The probe returns the maps' exponential, e^−|x|, clamped at −86.6 (2^k stays a normal float).
      const ex = Math.exp(-Math.abs(x));
      if (Math.abs(x) < 86.6) worstExp = Math.max(worstExp, Math.abs(e[i]! - ex) / ex);
      else expect(Number.isFinite(e[i]!) && e[i]! > 0).toBe(true);
      const sig = 1 / (1 + Math.exp(-x));
      if (x > -86) worstSigmoid = Math.max(worstSigmoid, Math.abs(sg[i]! - sig) / sig);
      const sp = x > 20 ? x : Math.log1p(Math.exp(x));
      if (x > -80) worstSoftplus = Math.max(worstSoftplus, Math.abs(s[i]! - sp) / sp);
      if (x > 20) expect(s[i]).toBe(x); // torch's threshold: softplus(x) = x exactly
    }
    expect(worstExp).toBeLessThan(4e-7);
    expect(worstSigmoid).toBeLessThan(6e-7);
    expect(worstSoftplus).toBeLessThan(1e-6);
  });
});

describe('errors', () => {
  it('name function, argument, expected and received', () => {
    const u = tf.zeros([2, 4, 8]);
    const A = tf.zeros([4, 3]);
    const B = tf.zeros([2, 3, 8]);
    expect(() => selectiveScan(tf.zeros([4, 8]), u, A, B, B)).toThrow(/ssm\.selectiveScan: u must be rank 3 \[batch, dim, seqLen\], got shape \[4,8\]/);
    expect(() => selectiveScan(u, tf.zeros([2, 4, 7]), A, B, B)).toThrow(/ssm\.selectiveScan: delta must be of shape/);
    expect(() => selectiveScan(u, u, tf.zeros([5, 3]), B, B)).toThrow(/ssm\.selectiveScan: A must be of shape/);
    expect(() => selectiveScan(u, u, A, tf.zeros([2, 3, 9]), B)).toThrow(/ssm\.selectiveScan: B must be of shape/);
    expect(() => selectiveScan(u, u, A, B, B, { D: tf.zeros([5]) })).toThrow(/ssm\.selectiveScan: options\.D must be/);
    expect(() => selectiveScan(u, u, A, B, B, { initialState: tf.zeros([2, 4, 4]) })).toThrow(/options\.initialState/);
    expect(() => selectiveScan(u, u, A, B, B, { bogus: 1 } as never)).toThrow(/ssm\.selectiveScan/);
  });
});
