import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  assertBroadcastable,
  assertDtype,
  assertInteger,
  assertKnownOptions,
  assertNumber,
  assertOneOf,
  assertRank,
  assertSameSize,
  assertShape,
  assertTensor,
  ShapeError,
  ValueError,
} from '../src/index.js';
import { useBackend } from './backend.js';

describe('assertion helpers', () => {
  let t: tf.Tensor;
  beforeAll(async () => {
    await useBackend('cpu');
    t = tf.zeros([2, 8]);
  });
  it('rank: names function, argument, expected layout and received shape', () => {
    expect(() => assertRank('attention.flashAttention', 'q', t, 4, '[batch, heads, seqLen, headDim]')).toThrow(
      new ShapeError('attention.flashAttention: q must be rank 4 [batch, heads, seqLen, headDim], got shape [2,8]'),
    );
    expect(() => assertRank('f', 'x', t, [2, 3])).not.toThrow();
    expect(() => assertRank('f', 'x', t, [3, 4])).toThrow('f: x must be rank 3 or 4, got shape [2,8]');
  });
  it('shape with wildcards', () => {
    expect(() => assertShape('f', 'A', t, [2, null])).not.toThrow();
    expect(() => assertShape('f', 'A', t, [3, null], '[dim, dState]')).toThrow(
      'f: A must be of shape [3,*] [dim, dState], got shape [2,8]',
    );
  });
  it('tensor, dtype, disposed', () => {
    expect(() => assertTensor('f', 'x', [1, 2])).toThrow('f: x must be a tf.Tensor, got [1, 2]');
    expect(() => assertDtype('f', 'x', t, ['int32'])).toThrow('f: x must be of dtype int32, got dtype float32');
    const d = tf.zeros([1]);
    d.dispose();
    expect(() => assertTensor('f', 'x', d)).toThrow('f: x is a disposed tensor');
  });
  it('numbers and options', () => {
    expect(() => assertInteger('f', 'n', 2.5, 1)).toThrow(new ValueError('f: n must be an integer >= 1, got 2.5'));
    expect(() => assertInteger('f', 'n', 9, 1, 8)).toThrow('f: n must be an integer in [1, 8], got 9');
    expect(() => assertNumber('f', 'sigma', -1, { exclusiveMin: 0 })).toThrow('f: sigma must be a finite number > 0, got -1');
    expect(() => assertNumber('f', 'x', Number.NaN)).toThrow('f: x must be a finite number, got NaN');
    expect(() => assertOneOf('f', 'method', 'zo', ['zoh', 'bilinear'])).toThrow(
      'f: method must be one of "zoh", "bilinear", got "zo"',
    );
    expect(() => assertKnownOptions('f', { casual: true }, ['causal'])).toThrow(
      'f: unknown option "casual"; known options are causal',
    );
    expect(() => assertSameSize('f', 'k.shape[3]', 12, 'q.shape[3]', 16)).toThrow('f: k.shape[3] (12) must equal q.shape[3] (16)');
  });
  it('broadcasting', () => {
    expect(() => assertBroadcastable('f', 'mask', [1, 1, 4, 5], [2, 3, 4, 5])).not.toThrow();
    expect(() => assertBroadcastable('f', 'mask', [5], [2, 3, 4, 5])).not.toThrow();
    expect(() => assertBroadcastable('f', 'mask', [4, 4], [2, 3, 4, 5], '[B, H, L, S]')).toThrow(
      'f: mask must be broadcastable to [2,3,4,5] [B, H, L, S], got shape [4,4]',
    );
  });
});
