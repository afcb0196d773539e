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
