import * as tf from '@tensorflow/tfjs-core';
import { testing } from '@lab/tensor';
import fixture from './fixtures/attention.json' with { type: 'json' };

export type FixtureArray = testing.FixtureArray;
export interface FixtureCase {
  name: string;
  q: FixtureArray;
  k: FixtureArray;
  v: FixtureArray;
  causal: boolean;
  mask?: { shape: number[]; data: boolean[] };
  bias?: FixtureArray;
  scale?: number;
  out: FixtureArray;
  dout?: FixtureArray;
  dq?: FixtureArray;
  dk?: FixtureArray;
  dv?: FixtureArray;
}

export const cases = (fixture as unknown as { cases: FixtureCase[] }).cases;

/** The case's tensors and options (the caller disposes them). */
export function caseInputs(c: FixtureCase) {
  const q = testing.fixtureTensor(c.q);
  const k = testing.fixtureTensor(c.k);
  const v = testing.fixtureTensor(c.v);
  const mask = c.mask ? tf.tensor(Uint8Array.from(c.mask.data, Number), c.mask.shape, 'bool') : undefined;
  const bias = c.bias ? testing.fixtureTensor(c.bias) : undefined;
  const options = { causal: c.causal, mask, bias, scale: c.scale };
  return { q, k, v, mask, bias, options };
}

/** Relative error of a tensor against a fixture array. */
export function errorAgainst(t: tf.Tensor, expected: FixtureArray): number {
  return testing.relativeError(t.dataSync(), testing.fixtureData(expected));
}

/** Random normal tensor from a seeded generator. */
export function seeded(seed: number) {
  let state = seed >>> 0;
  const next = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 4294967296;
  };
  return {
    normal(shape: number[], std = 1): tf.Tensor {
      const n = shape.reduce((a, b) => a * b, 1);
      const data = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        const u1 = next() + 1e-12;
        const u2 = next();
        data[i] = std * Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
      }
      return tf.tensor(data, shape, 'float32');
    },
    bool(shape: number[], pTrue: number): tf.Tensor {
      const n = shape.reduce((a, b) => a * b, 1);
      return tf.tensor(
        Uint8Array.from({ length: n }, () => (next() < pTrue ? 1 : 0)),
        shape,
        'bool',
      );
    },
    int(n: number) {
      return Math.floor(next() * n);
    },
  };
}
