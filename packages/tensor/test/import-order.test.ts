// @lab/tensor imported before anything else: tensors must still be the user's tfjs-core tensors, with
// working chained methods and gradients.
import { initBackend } from '../src/index.js';
import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';

it('tensors made after importing @lab/tensor first have working chained ops and gradients', async () => {
  await initBackend('cpu');
  const x = tf.tensor([1.5, -2.5]);
  // the engine is the user's tfjs-core's: tensors are instances of its own Tensor class
  expect(Object.getPrototypeOf(x).constructor).toBe(tf.Tensor);
  expect(Array.from(tf.cast(x, 'int32').dataSync())).toEqual([1, -2]);
  expect(Array.from(tf.mul(x, tf.scalar(2, 'int32')).dataSync())).toEqual([3, -5]);
  expect(
    Array.from(
      tf
        .grad((v: tf.Tensor) => tf.sum(tf.square(v)))(x)
        .dataSync(),
    ),
  ).toEqual([3, -5]);
});
