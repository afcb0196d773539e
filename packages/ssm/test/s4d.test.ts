import * as tf from '@tensorflow/tfjs-core';
import { createRng, initBackend, testing } from '@lab/tensor';
import { beforeAll, describe, expect, it } from 'vitest';
import { causalConv, S4D, s4dInitA, s4dKernel } from '../src/index.js';

describe.each(['cpu', 'wasm'] as const)('%s', (backend) => {
  beforeAll(async () => {
    await initBackend(backend);
  });

  it('causalConv: FFT path equals the Toeplitz composite, forward and gradient', () => {
    tf.tidy(() => {
      const rng = createRng(1);
      const u = rng.normal([2, 3, 37]);
      const k = rng.normal([3, 37]);
      const proj = rng.normal([2, 3, 37]);
      const f = (impl: 'fused' | 'composite') => (a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(causalConv(a, b, { impl }), proj));
      expect(testing.relativeError(causalConv(u, k, { impl: 'fused' }).dataSync(), causalConv(u, k, { impl: 'composite' }).dataSync())).toBeLessThan(1e-6);
      const gf = tf.grads(f('fused'))([u, k]);
      const gc = tf.grads(f('composite'))([u, k]);
      expect(testing.relativeError(gf[0]!.dataSync(), gc[0]!.dataSync())).toBeLessThan(1e-5);
      expect(testing.relativeError(gf[1]!.dataSync(), gc[1]!.dataSync())).toBeLessThan(1e-5);
      expect(testing.gradientCheck((a, b) => causalConv(a!, b!), [u, k], { epsilon: 1e-2, samples: 6 })).toBeLessThan(1e-2);
    });
  });

  it('s4dKernel: the fused host recurrence equals the tfjs composite, forward and gradient', () => {
    tf.tidy(() => {
      const rng = createRng(8);
      const H = 3;
      const half = 5;
      const L = 40;
      const logDt = tf.add(tf.mul(rng.uniform([H]), 3), -5);
      const C = rng.normal([H, half, 2]);
      const logAReal = tf.mul(rng.normal([H, half]), 0.5);
      const AImag = tf.mul(rng.normal([H, half]), 3);
      const proj = rng.normal([H, L]);
      const f = (impl: 'fused' | 'composite') => (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor, d: tf.Tensor) =>
        tf.sum(tf.mul(s4dKernel({ logDt: a, C: b, logAReal: c, AImag: d }, L, { impl }), proj));
      const params = { logDt, C, logAReal, AImag };
      expect(
        testing.relativeError(s4dKernel(params, L, { impl: 'fused' }).dataSync(), s4dKernel(params, L, { impl: 'composite' }).dataSync()),
      ).toBeLessThan(1e-5);
      const gf = tf.grads(f('fused'))([logDt, C, logAReal, AImag]);
      const gc = tf.grads(f('composite'))([logDt, C, logAReal, AImag]);
      for (let i = 0; i < 4; i++) expect(testing.relativeError(gf[i]!.dataSync(), gc[i]!.dataSync()), String(i)).toBeLessThan(1e-4);
    });
  });

  it.each(['lin', 'inv', 'real'] as const)('S4D-%s: convolution mode equals recurrent mode, chunked equals one shot', (init) => {
    const layer = S4D.create({ dModel: 3, dState: 8, init, dtMin: 0.01, dtMax: 0.3 }, createRng(2));
    tf.tidy(() => {
      const u = createRng(3).normal([2, 3, 20]);
      const conv = layer.forward(u, { mode: 'conv', returnState: true });
      const rec = layer.forward(u, { mode: 'recurrent', returnState: true });
      expect(testing.relativeError(conv.y.dataSync(), rec.y.dataSync())).toBeLessThan(1e-5);
      expect(testing.relativeError(conv.state.dataSync(), rec.state.dataSync())).toBeLessThan(1e-5);
      const a = layer.forward(tf.slice(u, [0, 0, 0], [-1, -1, 7]), { returnState: true });
      const b = layer.forward(tf.slice(u, [0, 0, 7], [-1, -1, 13]), { state: a.state, returnState: true });
      expect(testing.relativeError(tf.concat([a.y, b.y], 2).dataSync(), conv.y.dataSync())).toBeLessThan(1e-5);
      expect(testing.relativeError(b.state.dataSync(), conv.state.dataSync())).toBeLessThan(1e-5);
      let s = layer.initState(2);
      const ys: tf.Tensor[] = [];
      for (let t = 0; t < 20; t++) {
        const r = layer.step(tf.reshape(tf.slice(u, [0, 0, t], [-1, -1, 1]), [2, 3]), s);
        s = r.state;
        ys.push(r.y);
      }
      expect(testing.relativeError(tf.stack(ys, 2).dataSync(), conv.y.dataSync())).toBeLessThan(1e-5);
    });
    layer.dispose();
  });

  it('S4D layer gradients (convolution mode) equal those of recurrent mode', () => {
    const layer = S4D.create({ dModel: 2, dState: 4 }, createRng(4));
    tf.tidy(() => {
      const u = createRng(5).normal([1, 2, 12]);
      const g = (mode: 'conv' | 'recurrent') =>
        tf.variableGrads(() => tf.sum(tf.square(layer.forward(u, { mode }))) as tf.Scalar, layer.variables).grads;
      const gc = g('conv');
      const gr = g('recurrent');
      for (const [name, v] of Object.entries(gc)) {
        expect(testing.relativeError(v.dataSync(), gr[name]!.dataSync()), name).toBeLessThan(1e-3);
      }
    });
    layer.dispose();
  });
});

describe('S4D initializations and kernels', () => {
  it('S4D-Lin, S4D-Inv and S4D-Real follow the paper', () => {
    const lin = s4dInitA('lin', 1, 8);
    const inv = s4dInitA('inv', 1, 8);
    const real = s4dInitA('real', 1, 8);
    expect(Array.from(lin.AImag)).toEqual(Array.from(Float32Array.from([0, Math.PI, 2 * Math.PI, 3 * Math.PI])));
    expect(inv.AImag[1]).toBeCloseTo((8 / Math.PI) * (8 / 3 - 1), 5);
    expect(Math.exp(lin.logAReal[0]!)).toBeCloseTo(0.5, 6);
    expect(Array.from(real.logAReal, Math.exp).map((v) => Math.round(v))).toEqual([1, 2, 3, 4]);
  });

  it('bilinear s4dKernel equals the unrolled bilinear recurrence', () => {
    const logDt = tf.tensor1d([Math.log(0.05)]);
    const C = tf.tensor3d([[[0.3, -0.2], [1.1, 0.4]]]);
    const logAReal = tf.tensor2d([[Math.log(0.5), Math.log(0.7)]]);
    const AImag = tf.tensor2d([[1.5, 4]]);
    const K = s4dKernel({ logDt, C, logAReal, AImag }, 10, { discretization: 'bilinear' }).dataSync();
    const ref: number[] = [];
    const modes = [
      { a: [-0.5, 1.5], c: [0.3, -0.2] },
      { a: [-0.7, 4], c: [1.1, 0.4] },
    ];
    const mul = (x: number[], y: number[]) => [x[0]! * y[0]! - x[1]! * y[1]!, x[0]! * y[1]! + x[1]! * y[0]!];
    const div = (x: number[], y: number[]) => {
      const d = y[0]! ** 2 + y[1]! ** 2;
      return [(x[0]! * y[0]! + x[1]! * y[1]!) / d, (x[1]! * y[0]! - x[0]! * y[1]!) / d];
    };
    for (let l = 0; l < 10; l++) {
      let s = 0;
      for (const { a, c } of modes) {
        const h = [0.025 * a[0]!, 0.025 * a[1]!];
        const dA = div([1 + h[0]!, h[1]!], [1 - h[0]!, -h[1]!]);
        const dB = div([0.05, 0], [1 - h[0]!, -h[1]!]);
        let p = mul(c, dB);
        for (let i = 0; i < l; i++) p = mul(p, dA);
        s += 2 * p[0]!;
      }
      ref.push(s);
    }
    expect(testing.relativeError(K, ref)).toBeLessThan(1e-5);
  });
});

describe('learning', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });

  it('an S4D layer learns a 24-step delay (y_t = u_{t−24}) in convolution mode', () => {
    const H = 4;
    const L = 64;
    const delay = 24;
    const layer = S4D.create({ dModel: H, dState: 32, init: 'lin', dtMin: 0.01, dtMax: 0.1 }, createRng(9));
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
    expect(after).toBeLessThan(0.25 * before);
    layer.dispose();
    readout.dispose();
    optimizer.dispose();
  });
});
