import * as tf from '@tensorflow/tfjs-core';
import { createRng, initBackend, testing } from '@lab/tensor';
import { beforeAll, describe, expect, it } from 'vitest';
import { Mamba, MixerModel, rmsNorm, S4D } from '../src/index.js';

describe.each(['cpu', 'wasm'] as const)('%s', (backend) => {
  beforeAll(async () => {
    await initBackend(backend);
  });

  it('rmsNorm normalizes the last axis', () => {
    const x = tf.tensor2d([[3, 4], [1, -1]]);
    const y = rmsNorm(x, tf.tensor1d([1, 2]), 0);
    const s = Math.sqrt(12.5);
    expect(testing.maxAbsError(y.dataSync(), [3 / s, 8 / s, 1, -2])).toBeLessThan(1e-6);
  });

  it('MixerModel: forward equals step-by-step decoding, and fromStateDict reloads it', () => {
    const model = MixerModel.create({ dModel: 8, dState: 4, nLayer: 2, vocabSize: 11 }, createRng(1));
    const ids = tf.tensor2d([[1, 5, 2, 9, 3, 3, 0], [4, 4, 7, 1, 10, 2, 6]], undefined, 'int32');
    const full = model.forward(ids);
    expect(full.shape).toEqual([2, 7, 8]);
    let state = model.initState(2);
    const hs: tf.Tensor[] = [];
    for (let t = 0; t < 7; t++) {
      const r = model.step(tf.slice(ids, [0, t], [-1, 1]), state);
      for (const s of state) tf.dispose([s.convState, s.ssmState]);
      state = r.state;
      hs.push(r.hidden);
    }
    expect(testing.relativeError(tf.concat(hs, 1).dataSync(), full.dataSync())).toBeLessThan(1e-5);
    const weights: Record<string, tf.Tensor> = {
      'backbone.embedding.weight': model.embedding!,
      'backbone.norm_f.weight': model.normF,
      'lm_head.weight': model.embedding!,
    };
    model.layers.forEach((layer, i) => {
      for (const [k, v] of Object.entries(layer.stateDict())) weights[`backbone.layers.${i}.mixer.${k}`] = v;
      weights[`backbone.layers.${i}.norm.weight`] = model.norms[i]!;
    });
    const again = MixerModel.fromStateDict({ dModel: 8, dState: 4, nLayer: 2, vocabSize: 11 }, weights);
    expect(testing.maxAbsError(again.forward(ids).dataSync(), full.dataSync())).toBeLessThan(1e-6);
    expect(model.logits(full).shape).toEqual([2, 7, 11]);
    model.dispose();
    again.dispose();
  });
});

describe('ownership', () => {
  it('creating, reloading and disposing models leaves no tensors behind', () => {
    const before = tf.memory().numTensors;
    const m = MixerModel.create({ dModel: 8, dState: 4, nLayer: 2, vocabSize: 5 }, createRng(1));
    const s = S4D.create({ dModel: 4, dState: 8 }, createRng(2));
    const sd = m.layers[0]!.stateDict();
    const block = Mamba.fromStateDict({ dModel: 8, dState: 4 }, sd);
    tf.dispose(Object.values(sd));
    expect(tf.memory().numTensors).toBe(before + m.variables.length + s.variables.length + block.variables.length);
    m.dispose();
    s.dispose();
    block.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('learning', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });

  it('a 1-layer Mamba learns to recall the first token across 15 distractors', () => {
    // x = [k, r_1, ..., r_15] with a key k ∈ {1..4} and distractors r ∈ {5..8}; every later position must
    // output k (a selective memory: write on the key, ignore the distractors).
    const V = 9;
    const L = 16;
    const batch = 32;
    const model = MixerModel.create({ dModel: 32, dState: 8, nLayer: 1, vocabSize: V }, createRng(7));
    const optimizer = tf.train.adam(0.01);
    const makeBatch = (seed: number) =>
      tf.tidy(() => {
        const r = createRng(seed);
        const keys = tf.cast(r.randint([batch], 1, 5), 'int32');
        const noise = tf.cast(r.randint([batch, L - 1], 5, 9), 'int32');
        return { ids: tf.concat([tf.reshape(keys, [batch, 1]), noise], 1), keys };
      });
    const accuracy = (seed: number) =>
      tf.tidy(() => {
        const { ids, keys } = makeBatch(seed);
        const last = tf.slice(model.forward(ids), [0, L - 1, 0], [-1, 1, -1]);
        const pred = tf.argMax(tf.reshape(model.logits(last), [batch, V]), 1);
        return tf.mean(tf.cast(tf.equal(pred, keys), 'float32')).dataSync()[0]!;
      });
    const before = accuracy(1000);
    for (let step = 0; step < 90; step++) {
      tf.tidy(() => {
        const { ids, keys } = makeBatch(step);
        optimizer.minimize(
          () => {
            const hidden = tf.slice(model.forward(ids), [0, 1, 0], [-1, -1, -1]); // positions 1..L−1
            const logits = tf.reshape(model.logits(hidden), [batch * (L - 1), V]);
            const target = tf.oneHot(tf.reshape(tf.tile(tf.reshape(keys, [batch, 1]), [1, L - 1]), [-1]), V);
            return tf.losses.softmaxCrossEntropy(target, logits) as tf.Scalar;
          },
          false,
          model.variables,
        );
      });
    }
    const after = accuracy(1001);
    expect(before).toBeLessThan(0.5);
    expect(after).toBeGreaterThan(0.95);
    model.dispose();
    optimizer.dispose();
  });
});
