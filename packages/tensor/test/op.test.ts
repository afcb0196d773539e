import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { createRng, defineOp, type HostTensor, type OpDefinition, testing, ValueError } from '../src/index.js';
import { useBackend } from './backend.js';

// softplus with a fused host kernel, a second (non-differentiable) output, and a 'recompute' gradient.
const softplus = defineOp<[tf.Tensor], { beta: number }>({
  name: 'test.softplus',
  validate: ([x], { beta }) => {
    if (!(beta > 0)) throw new ValueError(`test.softplus: beta must be > 0, got ${beta}`);
    if (x.dtype !== 'float32') throw new ValueError('test.softplus: x must be float32');
  },
  composite: ([x], { beta }) => tf.div(tf.softplus(tf.mul(x, beta)), beta),
  fused: {
    backends: ['cpu', 'wasm'],
    forward: ([x], { beta }) => {
      const y = new Float32Array(x.data.length);
      let max = -Infinity;
      x.data.forEach((v, i) => {
        const z = beta * v;
        y[i] = (Math.max(z, 0) + Math.log1p(Math.exp(-Math.abs(z)))) / beta;
        max = Math.max(max, v);
      });
      const maxOut: HostTensor = { data: new Float32Array([max]), shape: [] };
      return { outputs: [{ data: y, shape: x.shape }, maxOut] };
    },
  },
  gradient: 'recompute',
});

// A definition missing a piece does not compile: each of these is a type error.
const base = { name: 'x', validate: null, composite: ([x]: [tf.Tensor]) => x };
// @ts-expect-error gradient is required (write null for a non-differentiable op)
const noGradient: OpDefinition<[tf.Tensor], object> = { ...base, fused: null };
// @ts-expect-error fused is required (write null for an op without a fused kernel)
const noFused: OpDefinition<[tf.Tensor], object> = { ...base, gradient: 'recompute' };
// @ts-expect-error a fused kernel needs its backends
const noBackends: OpDefinition<[tf.Tensor], object> = { ...base, gradient: null, fused: { forward: () => ({ outputs: [] }) } };
void [noGradient, noFused, noBackends];

describe.each(['cpu', 'wasm'] as const)('defineOp on %s', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
  });

  it('dispatches to the fused kernel by default and to the composite on request; both agree', () => {
    const x = createRng(1).normal([4, 5], 0, 3);
    expect(softplus.fusedAvailable()).toBe(true);
    const [fused, max] = softplus([x], { beta: 2 });
    const [composite, ...rest] = softplus([x], { beta: 2 }, { impl: 'composite' });
    expect(rest).toHaveLength(0);
    expect(testing.relativeError(fused!.dataSync(), composite!.dataSync())).toBeLessThan(1e-6);
    expect(max!.dataSync()[0]).toBe(Math.max(...x.dataSync()));
    tf.dispose([x, fused!, max!, composite!]);
  });

  it("'recompute' differentiates the composite at the saved inputs", () => {
    const x = createRng(2).normal([7]);
    const g = (impl: 'fused' | 'composite') =>
      tf.grad((v: tf.Tensor) => tf.sum(tf.square(softplus([v], { beta: 1.5 }, { impl })[0]!)))(x);
    const gf = g('fused');
    const gc = g('composite');
    expect(testing.relativeError(gf.dataSync(), gc.dataSync())).toBeLessThan(1e-6);
    tf.dispose([x, gf, gc]);
  });

  it('leaves no tensors behind, with and without a gradient tape', () => {
    const x = createRng(3).normal([3, 3]);
    const { result, leaked } = testing.countLeaks(() => softplus([x], { beta: 1 }));
    expect(leaked).toBe(0);
    testing.disposeAll(result);
    const before = tf.memory().numTensors;
    const g = tf.grad((v: tf.Tensor) => tf.sum(softplus([v], { beta: 1 })[0]!))(x);
    g.dispose();
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });

  it('validates before any work', () => {
    let ran = false;
    const probe = defineOp<[tf.Tensor], object>({
      name: 'test.probe',
      validate: () => {
        throw new ValueError('test.probe: x must be something else, got this');
      },
      composite: ([x]) => {
        ran = true;
        return x;
      },
      fused: null,
      gradient: null,
    });
    const x = tf.zeros([1]);
    expect(() => probe([x], {})).toThrow('test.probe: x must be something else, got this');
    expect(ran).toBe(false);
    x.dispose();
  });

  it("impl 'fused' on a backend the kernel does not cover is an error naming the backends", () => {
    const other = backend === 'cpu' ? 'wasm' : 'cpu';
    const only = defineOp<[tf.Tensor], object>({
      name: 'test.only',
      validate: null,
      composite: ([x]) => tf.neg(x),
      fused: { backends: [other], forward: ([x]) => ({ outputs: [{ data: x.data.map((v) => -v), shape: x.shape }] }) },
      gradient: null,
    });
    const x = tf.ones([2]);
    expect(only.fusedAvailable()).toBe(false);
    expect(() => only([x], {}, { impl: 'fused' })).toThrow(
      `test.only: impl 'fused' needs the ${other} backend, the active backend is ${backend}`,
    );
    const [y] = only([x], {});
    expect(Array.from(y!.dataSync())).toEqual([-1, -1]);
    tf.dispose([x, y!]);
  });

  it('a fused op without a gradient says so when differentiated', () => {
    const frozen = defineOp<[tf.Tensor], object>({
      name: 'test.frozen',
      validate: null,
      composite: ([x]) => tf.round(x),
      fused: { backends: ['cpu', 'wasm'], forward: ([x]) => ({ outputs: [{ data: x.data.map(Math.round), shape: x.shape }] }) },
      gradient: null,
    });
    const x = tf.ones([2]);
    expect(() => tf.grad((v: tf.Tensor) => tf.sum(frozen([v], {})[0]!))(x)).toThrow('test.frozen is not differentiable');
    x.dispose();
  });
});
