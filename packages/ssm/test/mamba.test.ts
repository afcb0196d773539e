import * as tf from '@tensorflow/tfjs-core';
import { createRng, initBackend, kernelModules, testing } from '@lab/tensor';
import { beforeAll, describe, expect, it } from 'vitest';
import { Mamba } from '../src/index.js';
import fixture from './fixtures/ssm.json';

type Arr = testing.FixtureArray;
const M = fixture.mamba_block as unknown as {
  config: { d_model: number; d_state: number; d_conv: number; expand: number; dt_rank: number };
  weights_torch_layout: Record<string, Arr>;
  x: Arr;
  y: Arr;
  y_stepwise: Arr;
};
const config = {
  dModel: M.config.d_model,
  dState: M.config.d_state,
  dConv: M.config.d_conv,
  expand: M.config.expand,
  dtRank: M.config.dt_rank,
};

function load(): Mamba {
  const weights = Object.fromEntries(
    Object.entries(M.weights_torch_layout).map(([k, v]) => [k, testing.fixtureTensor(v)]),
  );
  const block = Mamba.fromStateDict(config, weights);
  tf.dispose(Object.values(weights));
  return block;
}

describe.each(['cpu', 'wasm'] as const)('%s', (backend) => {
  beforeAll(async () => {
    await initBackend(backend);
  });

  it('forward equals mamba Mamba (slow path) on the fixture block (≤ 1e-4)', () => {
    const block = load();
    const y = block.forward(testing.fixtureTensor(M.x));
    expect(y.shape).toEqual([2, 12, 8]);
    expect(testing.relativeError(y.dataSync(), testing.fixtureData(M.y))).toBeLessThan(1e-4);
    block.dispose();
  });

  it.each(['fused', 'composite'] as const)('step() (%s) token by token equals mamba step() (≤ 1e-4)', (impl) => {
    const block = load();
    const x = testing.fixtureTensor(M.x);
    let state = block.initState(2);
    const ys: tf.Tensor[] = [];
    for (let t = 0; t < 12; t++) {
      const r = block.step(tf.slice(x, [0, t, 0], [-1, 1, -1]), state, { impl });
      tf.dispose([state.convState, state.ssmState]);
      state = r.state;
      ys.push(r.y);
    }
    const y = tf.concat(ys, 1);
    expect(testing.relativeError(y.dataSync(), testing.fixtureData(M.y_stepwise))).toBeLessThan(1e-4);
    expect(testing.relativeError(y.dataSync(), testing.fixtureData(M.y))).toBeLessThan(1e-4);
    block.dispose();
  });

  // The fused step keeps its projections packed in the matmul kernel's memory: packed once, packed again when a
  // weight is assigned (a stale copy would give the old outputs), and given back by dispose().
  it('fused step() packs its weights once, re-packs after assign(), and dispose() releases them', () => {
    const tensorKernels = kernelModules().find((m) => m.name === 'tensor')!;
    const held = tensorKernels.residentBytes;
    const block = load();
    const x = tf.slice(testing.fixtureTensor(M.x), [0, 0, 0], [-1, 1, -1]);
    const stepOnce = (impl: 'fused' | 'composite') => {
      const state = block.initState(2);
      const r = block.step(x, state, { impl });
      const y = r.y.dataSync().slice();
      tf.dispose([state.convState, state.ssmState, r.y, r.state.convState, r.state.ssmState]);
      return y;
    };
    stepOnce('fused');
    const packed = tensorKernels.residentBytes;
    expect(packed).toBeGreaterThan(held);
    stepOnce('fused');
    expect(tensorKernels.residentBytes).toBe(packed);
    block.outProj.assign(tf.mul(block.outProj, 2));
    const fused = stepOnce('fused');
    expect(testing.relativeError(fused, stepOnce('composite'))).toBeLessThan(1e-5);
    expect(tensorKernels.residentBytes).toBe(packed);
    block.dispose();
    expect(tensorKernels.residentBytes).toBe(held);
    x.dispose();
  });

  it('chunked forward with state equals one shot, and hands over to step()', () => {
    const block = load();
    tf.tidy(() => {
      const x = testing.fixtureTensor(M.x);
      const whole = block.forward(x, { returnState: true });
      const a = block.forward(tf.slice(x, [0, 0, 0], [-1, 2, -1]), { returnState: true });
      const b = block.forward(tf.slice(x, [0, 2, 0], [-1, 7, -1]), { state: a.state, returnState: true });
      const last = block.step(tf.slice(x, [0, 9, 0], [-1, 1, -1]), b.state);
      const c = block.forward(tf.slice(x, [0, 10, 0], [-1, 2, -1]), { state: last.state, returnState: true });
      const chunked = tf.concat([a.y, b.y, last.y, c.y], 1);
      expect(testing.relativeError(chunked.dataSync(), whole.y.dataSync())).toBeLessThan(1e-5);
      expect(testing.relativeError(c.state.ssmState.dataSync(), whole.state.ssmState.dataSync())).toBeLessThan(1e-5);
      expect(testing.relativeError(c.state.convState.dataSync(), whole.state.convState.dataSync())).toBeLessThan(1e-6);
    });
    block.dispose();
  });

  it('stateDict round-trips the PyTorch layout', () => {
    const block = load();
    const sd = block.stateDict();
    for (const [k, v] of Object.entries(M.weights_torch_layout)) {
      expect(sd[k]!.shape).toEqual(v.shape);
      expect(testing.maxAbsError(sd[k]!.dataSync(), Float32Array.from(testing.fixtureData(v)))).toBe(0);
    }
    tf.dispose(Object.values(sd));
    block.dispose();
  });

  it('create() follows mamba init: A_log = log(1..N), D = 1, softplus(dt bias) in [dtMin, dtMax]', () => {
    const block = Mamba.create({ dModel: 16, dState: 8 }, createRng(3));
    expect(block.dInner).toBe(32);
    expect(block.dtRank).toBe(1);
    const aLog = block.ALog.arraySync() as number[][];
    expect(aLog[5]![3]).toBeCloseTo(Math.log(4), 6);
    expect(Array.from(block.D.dataSync()).every((v) => v === 1)).toBe(true);
    for (const b of block.dtBias.dataSync()) {
      const dt = Math.log1p(Math.exp(b));
      expect(dt).toBeGreaterThanOrEqual(0.001 * 0.999);
      expect(dt).toBeLessThanOrEqual(0.1 * 1.001);
    }
    block.dispose();
  });

  it('is causal and differentiable: no gradient from later tokens', () => {
    const block = Mamba.create({ dModel: 8, dState: 4 }, createRng(5));
    const x = createRng(6).normal([1, 10, 8]);
    const g = tf.grad((xx: tf.Tensor) => tf.sum(tf.slice(block.forward(xx), [0, 0, 0], [-1, 4, -1])))(x);
    const later = tf.slice(g, [0, 4, 0], [-1, -1, -1]);
    expect(tf.max(tf.abs(later)).dataSync()[0]).toBe(0);
    expect(tf.max(tf.abs(tf.slice(g, [0, 0, 0], [-1, 4, -1]))).dataSync()[0]).toBeGreaterThan(0);
    tf.dispose([x, g, later]);
    block.dispose();
  });
});

describe('errors', () => {
  it('names function, argument, expected and received', () => {
    const weights = Object.fromEntries(Object.entries(M.weights_torch_layout).map(([k, v]) => [k, testing.fixtureTensor(v)]));
    expect(() => Mamba.fromStateDict({ ...config, dState: 5 }, weights)).toThrow(/ssm\.Mamba\.fromStateDict: weights\['x_proj\.weight'\] must be of shape/);
    const { D: _D, ...missing } = weights;
    expect(() => Mamba.fromStateDict(config, missing)).toThrow(/weights is missing "D"/);
    expect(() => Mamba.fromStateDict(config, { ...weights, 'in_proj.bias': tf.zeros([32]) })).toThrow(/unexpected key "in_proj\.bias"/);
    const block = Mamba.fromStateDict(config, weights);
    expect(() => block.forward(tf.zeros([2, 3, 7]))).toThrow(/ssm\.Mamba\.forward: x\.shape\[2\] \(7\) must equal dModel \(8\)/);
    expect(() => block.step(tf.zeros([2, 2, 8]), block.initState(2))).toThrow(/ssm\.Mamba\.step: x must be of shape/);
    expect(() => block.step(tf.zeros([2, 1, 8]), block.initState(3))).toThrow(/state\.convState must be of shape/);
    block.dispose();
  });
});
