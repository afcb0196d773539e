import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  borrowHost,
  createRng,
  defineOp,
  fromHost,
  type HostTensor,
  type OpDefinition,
  testing,
  ValueError,
  wasmHeapView,
} from '../src/index.js';
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
  it('borrowHost views the wasm heap without a copy (elsewhere it reads as toHost does)', () => {
    const x = createRng(3).normal([3, 4]);
    const view = wasmHeapView(x);
    const host = borrowHost(x);
    expect(Array.from(host.data)).toEqual(Array.from(x.dataSync()));
    expect(host.shape).toEqual([3, 4]);
    if (backend === 'wasm') {
      expect(view).toBeInstanceOf(Float32Array);
      expect(host.borrowed).toBe(true);
      // A view, not a copy: it shares the backend's buffer.
      const heap = (tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8;
      expect(host.data.buffer).toBe(heap.buffer);
    } else {
      expect(view).toBeUndefined();
      expect(host.borrowed).toBeUndefined();
    }
    const empty = tf.zeros([0]);
    expect(wasmHeapView(empty)).toBeUndefined();
    tf.dispose([x, empty]);
  });

  it('fromHost copies a borrowed array: overwriting it afterwards leaves the tensor as it was', () => {
    const scratch = new Float32Array([1, 2, 3, 4]);
    const t = fromHost({ data: scratch, shape: [2, 2], borrowed: true });
    scratch.fill(-7);
    expect(Array.from(t.dataSync())).toEqual([1, 2, 3, 4]);
    t.dispose();
  });

  it('an op with borrowInputs reads its inputs as views and returns a borrowed output correctly', () => {
    const scratch = new Float32Array(64);
    const twice = defineOp<[tf.Tensor, tf.Tensor], object>({
      name: 'test.twiceSum',
      validate: null,
      composite: ([a, b]) => tf.mul(tf.add(a, b), 2),
      fused: {
        backends: ['cpu', 'wasm'],
        borrowInputs: true,
        forward: ([a, b]) => {
          for (let i = 0; i < a.data.length; i++) scratch[i] = 2 * (a.data[i]! + b.data[i]!);
          return { outputs: [{ data: scratch.subarray(0, a.data.length), shape: a.shape, borrowed: true }] };
        },
      },
      gradient: 'recompute',
    });
    const a = createRng(4).normal([2, 5]);
    const b = createRng(5).normal([2, 5]);
    const [y] = twice([a, b], {});
    scratch.fill(0); // the next call would reuse it
    const [ref] = twice([a, b], {}, { impl: 'composite' });
    expect(testing.relativeError(y!.dataSync(), ref!.dataSync())).toBeLessThan(1e-7);
    const [ga] = tf.grads((p: tf.Tensor) => tf.sum(twice([p, b], {})[0]!))([a]);
    expect(Array.from(ga!.dataSync())).toEqual(new Array(10).fill(2));
    tf.dispose([a, b, y!, ref!, ga!]);
  });
});
