import * as tf from '@tensorflow/tfjs-core';
import { createRng, initBackend, testing } from '@lab/tensor';
import { beforeAll, describe, expect, it } from 'vitest';
import { S4 } from '../src/index.js';

describe.each(['cpu', 'wasm'] as const)('%s', (backend) => {
  beforeAll(async () => {
    await initBackend(backend);
  });

  it('convolution mode equals recurrent mode and step(); chunked equals one shot (outputs and states)', () => {
    const layer = S4.create({ dModel: 3, dState: 8, lMax: 32, dtMin: 0.01, dtMax: 0.3 }, createRng(2));
    tf.tidy(() => {
      const u = createRng(3).normal([2, 3, 20]);
      const conv = layer.forward(u, { mode: 'conv', returnState: true });
      const rec = layer.forward(u, { mode: 'recurrent', returnState: true });
      expect(testing.relativeError(conv.y.dataSync(), rec.y.dataSync())).toBeLessThan(1e-4);
      expect(testing.relativeError(conv.state.dataSync(), rec.state.dataSync())).toBeLessThan(1e-4);
      // Chunks in convolution mode, then in recurrent mode, carrying the state.
      const a = layer.forward(tf.slice(u, [0, 0, 0], [-1, -1, 7]), { returnState: true });
      const b = layer.forward(tf.slice(u, [0, 0, 7], [-1, -1, 13]), { state: a.state, returnState: true });
      expect(testing.relativeError(tf.concat([a.y, b.y], 2).dataSync(), conv.y.dataSync())).toBeLessThan(1e-4);
      expect(testing.relativeError(b.state.dataSync(), conv.state.dataSync())).toBeLessThan(1e-4);
      const c = layer.forward(tf.slice(u, [0, 0, 7], [-1, -1, 13]), { mode: 'recurrent', state: a.state });
      expect(testing.relativeError(c.dataSync(), b.y.dataSync())).toBeLessThan(1e-4);
      let s = layer.initState(2);
      const ys: tf.Tensor[] = [];
      for (let t = 0; t < 20; t++) {
        const r = layer.step(tf.reshape(tf.slice(u, [0, 0, t], [-1, -1, 1]), [2, 3]), s);
        s = r.state;
        ys.push(r.y);
      }
      expect(testing.relativeError(tf.stack(ys, 2).dataSync(), conv.y.dataSync())).toBeLessThan(1e-4);
      expect(testing.relativeError(s.dataSync(), conv.state.dataSync())).toBeLessThan(1e-4);
    });
    layer.dispose();
  });

  it('the kernel is causal-consistent: the length-L kernel is the truncated length-lMax kernel, and y_t ignores u_{>t}', () => {
    const layer = S4.create({ dModel: 2, dState: 8, lMax: 16 }, createRng(6));
    tf.tidy(() => {
      const full = layer.kernel(16);
      expect(testing.relativeError(layer.kernel(10).dataSync(), tf.slice(full, [0, 0], [-1, 10]).dataSync())).toBe(0);
      const u = createRng(7).normal([1, 2, 16]);
      const g = tf.grad((x: tf.Tensor) => tf.sum(tf.slice(layer.forward(x), [0, 0, 5], [-1, -1, 1])))(u);
      // The FFT leaves round-off (~1e−19) where the exact gradient is zero.
      const later = tf.max(tf.abs(tf.slice(g, [0, 0, 6], [-1, -1, -1]))).dataSync()[0]!;
      const earlier = tf.max(tf.abs(tf.slice(g, [0, 0, 0], [-1, -1, 6]))).dataSync()[0]!;
      expect(earlier).toBeGreaterThan(1e-3);
      expect(later).toBeLessThan(1e-7 * earlier);
    });
    layer.dispose();
  });

  it('setLMax re-targets C̃ (s4 _setup_C): same SSM, longer kernel, and convolution mode still equals recurrent mode', () => {
    const layer = S4.create({ dModel: 2, dState: 8, lMax: 16, dtMin: 0.01, dtMax: 0.2 }, createRng(12));
    tf.tidy(() => {
      const k16 = layer.kernel(16).dataSync().slice();
      const u = createRng(13).normal([1, 2, 40]);
      const rec = layer.forward(u, { mode: 'recurrent' }).dataSync().slice();
      layer.setLMax(40);
      expect(layer.lMax).toBe(40);
      expect(testing.relativeError(layer.kernel(16).dataSync(), k16)).toBeLessThan(1e-4);
      const conv = layer.forward(u).dataSync();
      expect(testing.relativeError(conv, rec)).toBeLessThan(1e-4);
      expect(testing.relativeError(layer.forward(u, { mode: 'recurrent' }).dataSync(), rec)).toBeLessThan(1e-4);
      layer.setLMax(16);
      expect(testing.relativeError(layer.kernel(16).dataSync(), k16)).toBeLessThan(1e-4);
    });
    layer.dispose();
  });

  it('gradients: convolution mode and recurrent mode agree for every variable and for u; they equal finite differences', () => {
    const layer = S4.create({ dModel: 2, dState: 4, lMax: 12 }, createRng(4));
    tf.tidy(() => {
      const u = createRng(5).normal([1, 2, 12]);
      const loss = (mode: 'conv' | 'recurrent') => () => tf.sum(tf.square(layer.forward(u, { mode }))) as tf.Scalar;
      const gc = tf.variableGrads(loss('conv'), layer.variables).grads;
      for (const v of layer.variables) {
        expect(tf.max(tf.abs(gc[v.name]!)).dataSync()[0], v.name).toBeGreaterThan(0);
      }
      const gr = tf.variableGrads(loss('recurrent'), layer.variables).grads;
      for (const v of layer.variables) {
        expect(testing.relativeError(gc[v.name]!.dataSync(), gr[v.name]!.dataSync()), v.name).toBeLessThan(1e-4);
      }
      const gu = (mode: 'conv' | 'recurrent') => tf.grad((x: tf.Tensor) => tf.sum(tf.square(layer.forward(x, { mode }))))(u);
      expect(testing.relativeError(gu('conv').dataSync(), gu('recurrent').dataSync())).toBeLessThan(1e-3);
      // The layer's gradient in each SSM variable equals central differences (the variable moved in place).
      const lossValue = () => tf.tidy(() => loss('conv')().dataSync()[0]!);
      for (const v of [layer.logDt, layer.logLambdaReal, layer.LambdaImag, layer.P, layer.B, layer.C]) {
        const base = v.dataSync().slice();
        const analytic = gc[v.name]!.dataSync();
        let scale = 0;
        for (const g of analytic) scale = Math.max(scale, Math.abs(g));
        for (const idx of [0, base.length - 1]) {
          const at = (delta: number) => {
            const moved = base.slice();
            moved[idx] = moved[idx]! + delta;
            v.assign(tf.tensor(moved, v.shape));
            return lossValue();
          };
          const numeric = (at(1e-2) - at(-1e-2)) / 2e-2;
          v.assign(tf.tensor(base, v.shape));
          expect(Math.abs(numeric - analytic[idx]!) / scale, `${v.name}[${idx}]`).toBeLessThan(1e-2);
        }
      }
    });
    layer.dispose();
  });

  it('with a state in and out, convolution mode is differentiable in every SSM variable and in the state (finite differences)', () => {
    const layer = S4.create({ dModel: 2, dState: 6, lMax: 12, dtMin: 0.02, dtMax: 0.2 }, createRng(14));
    tf.tidy(() => {
      const rng = createRng(15);
      const u = rng.normal([2, 2, 9]);
      const s0 = tf.mul(rng.normal([2, 2, 3, 2]), 0.5) as tf.Tensor4D;
      const projY = rng.normal([2, 2, 9]);
      const projS = rng.normal([2, 2, 3, 2]);
      const loss = (state: tf.Tensor) => {
        const r = layer.forward(u, { state: state as tf.Tensor4D, returnState: true });
        return tf.add(tf.sum(tf.mul(r.y, projY)), tf.sum(tf.mul(r.state, projS))) as tf.Scalar;
      };
      // w.r.t. the state
      expect(testing.gradientCheck((x) => loss(x!), [s0], { samples: 6 })).toBeLessThan(1e-2);
      // w.r.t. the SSM variables, each moved in place
      const ssm = [layer.logDt, layer.logLambdaReal, layer.LambdaImag, layer.P, layer.B, layer.C];
      const grads = tf.variableGrads(() => loss(s0), ssm).grads;
      const value = () => tf.tidy(() => loss(s0).dataSync()[0]!);
      for (const v of ssm) {
        const base = v.dataSync().slice();
        const analytic = grads[v.name]!.dataSync();
        let scale = 0;
        for (const g of analytic) scale = Math.max(scale, Math.abs(g));
        expect(scale, v.name).toBeGreaterThan(0);
        for (const idx of [1, base.length - 2]) {
          const at = (delta: number) => {
            const moved = base.slice();
            moved[idx] = moved[idx]! + delta;
            v.assign(tf.tensor(moved, v.shape));
            return value();
          };
          const numeric = (at(1e-2) - at(-1e-2)) / 2e-2;
          v.assign(tf.tensor(base, v.shape));
          expect(Math.abs(numeric - analytic[idx]!) / scale, `${v.name}[${idx}]`).toBeLessThan(1e-2);
        }
      }
    });
    layer.dispose();
  });

  it('leaks no tensors (forward with state, step, gradient)', () => {
    const layer = S4.create({ dModel: 2, dState: 4, lMax: 8 }, createRng(9));
    const u = createRng(10).normal([1, 2, 8]);
    const s0 = layer.initState(1);
    const u1 = tf.zeros([1, 2]);
    const a = testing.countLeaks(() => layer.forward(u, { state: s0, returnState: true }));
    expect(a.leaked).toBe(0);
    const b = testing.countLeaks(() => layer.forward(u, { mode: 'recurrent', state: s0, returnState: true }));
    expect(b.leaked).toBe(0);
    const c = testing.countLeaks(() => layer.step(u1, s0));
    expect(c.leaked).toBe(0);
    const d = testing.countLeaks(() => tf.variableGrads(() => tf.sum(layer.forward(u)) as tf.Scalar, layer.variables));
    expect(d.leaked).toBe(0);
    testing.disposeAll([a.result, b.result, c.result, d.result, u, u1, s0]);
    layer.dispose();
  });
});

describe('S4 bad inputs', () => {
  beforeAll(async () => {
    await initBackend('cpu');
  });

  it('errors name the function and the argument', () => {
    const rng = createRng(1);
    expect(() => S4.create({ dModel: 2, dState: 5 }, rng)).toThrow(/ssm\.S4\.create: config\.dState must be even/);
    expect(() => S4.create({ dModel: 0 }, rng)).toThrow(/ssm\.S4\.create: config\.dModel/);
    expect(() => S4.create({ dModel: 2, lMax: 1.5 }, rng)).toThrow(/ssm\.S4\.create: config\.lMax/);
    expect(() => S4.create({ dModel: 2, dtMin: 0.1, dtMax: 0.01 }, rng)).toThrow(/ssm\.S4\.create: config\.dtMax/);
    expect(() => S4.create({ dModel: 2, init: 'lin' } as never, rng)).toThrow(/ssm\.S4\.create.*init/);
    const layer = S4.create({ dModel: 2, dState: 4, lMax: 8 }, rng);
    tf.tidy(() => {
      expect(() => layer.forward(tf.zeros([1, 2, 9]))).toThrow(/ssm\.S4\.forward: u\.shape\[2\] \(L = 9\) must be at most lMax = 8/);
      expect(() => layer.forward(tf.zeros([1, 3, 8]))).toThrow(/ssm\.S4\.forward: u\.shape\[1\] \(3\) must equal dModel \(2\)/);
      expect(() => layer.forward(tf.zeros([2, 8]))).toThrow(/ssm\.S4\.forward: u must be rank 3/);
      expect(() => layer.forward(tf.zeros([1, 2, 8]), { state: tf.zeros([1, 2, 4, 2]) as tf.Tensor4D })).toThrow(
        /ssm\.S4\.forward: options\.state must be of shape \[1,2,2,2\]/,
      );
      expect(() => layer.forward(tf.zeros([1, 2, 8]), { mode: 'fft' as never })).toThrow(/ssm\.S4\.forward: options\.mode/);
      expect(() => layer.step(tf.zeros([1, 2]), tf.zeros([2, 2, 2, 2]) as tf.Tensor4D)).toThrow(/ssm\.S4\.step: state/);
      expect(() => layer.kernel(9)).toThrow(/ssm\.S4\.kernel: L must be at most lMax = 8/);
      expect(() => layer.setLMax(0)).toThrow(/ssm\.S4\.setLMax: L/);
      // Recurrent mode has no length limit.
      expect(layer.forward(tf.zeros([1, 2, 9]), { mode: 'recurrent' }).shape).toEqual([1, 2, 9]);
    });
    layer.dispose();
  });
});

describe('learning', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });

  it('an S4 layer learns a 24-step delay (y_t = u_{t−24}) in convolution mode, with HiPPO-LegS memory', () => {
    const H = 4;
    const L = 64;
    const delay = 24;
    const layer = S4.create({ dModel: H, dState: 64, lMax: L, dtMin: 0.01, dtMax: 0.1 }, createRng(9));
    const readout = tf.variable(tf.mul(createRng(10).normal([H]), 0.1));
    const optimizer = tf.train.adam(0.01);
    const batchLoss = (seed: number) => {
      const u = createRng(seed).normal([8, 1, L]);
      const x = tf.tile(u, [1, H, 1]);
      const y = tf.sum(tf.mul(layer.forward(x), tf.reshape(readout, [1, H, 1])), 1);
      const target = tf.reshape(tf.slice(u, [0, 0, 0], [-1, -1, L - delay]), [8, L - delay]);
      return tf.losses.meanSquaredError(target, tf.slice(y, [0, delay], [-1, -1])) as tf.Scalar;
    };
    const before = tf.tidy(() => batchLoss(500).dataSync()[0]!);
    for (let step = 0; step < 150; step++) {
      tf.tidy(() => {
        optimizer.minimize(() => batchLoss(step), false, [...layer.variables, readout]);
      });
    }
    const after = tf.tidy(() => batchLoss(501).dataSync()[0]!);
    expect(before).toBeGreaterThan(0.8);
    expect(after).toBeLessThan(0.1 * before);
    expect(after).toBeLessThan(0.05);
    // The trained layer's two modes still agree.
    tf.tidy(() => {
      const u = createRng(77).normal([1, H, L]);
      expect(testing.relativeError(layer.forward(u).dataSync(), layer.forward(u, { mode: 'recurrent' }).dataSync())).toBeLessThan(1e-3);
    });
    layer.dispose();
    readout.dispose();
    optimizer.dispose();
  });
});
