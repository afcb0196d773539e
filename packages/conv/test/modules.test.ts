import * as tf from '@tensorflow/tfjs-core';
import { createRng, initBackend, ShapeError, testing, ValueError } from '@lab/tensor';
import { beforeAll, describe, expect, it } from 'vitest';
import { ASPP, asppRates, WaveNet } from '../src/index.js';

describe.each(['cpu', 'wasm'] as const)('%s', (backend) => {
  beforeAll(async () => {
    await initBackend(backend);
    expect(tf.getBackend()).toBe(backend);
  });

  describe('ASPP (DeepLab v3)', () => {
    it('uses rates 6/12/18 at output stride 16 and 12/24/36 at 8', () => {
      expect(asppRates(16)).toEqual([6, 12, 18]);
      expect(asppRates(8)).toEqual([12, 24, 36]);
      const shapes = ASPP.parameterShapes({ inChannels: 8, outChannels: 4 });
      expect(shapes['convs.1.0.weight']).toEqual([3, 3, 8, 4]);
      expect(shapes['convs.4.1.weight']).toEqual([1, 1, 8, 4]);
      expect(shapes['project.0.weight']).toEqual([1, 1, 20, 4]);
      expect(Object.keys(shapes).length).toBe(5 + 5 * 4 + 1 + 4);
    });

    it('equals the branches written out with tf.conv2d (dilated forward), batch norm and pooling', () => {
      const rng = createRng(1);
      const aspp = ASPP.create({ inChannels: 3, outChannels: 4, outputStride: 8 }, rng);
      // non-trivial batch-norm statistics
      for (const name of Object.keys(aspp.weights)) {
        if (aspp.weights[name]!.rank === 1) {
          const t = aspp.weights[name]!;
          aspp.weights[name] = name.endsWith('running_var')
            ? rng.uniform(t.shape, 0.5, 2)
            : rng.normal(t.shape, 0, 0.3);
          t.dispose();
        }
      }
      const x = rng.normal([2, 9, 7, 3]);
      const y = aspp.apply(x);
      expect(y.shape).toEqual([2, 9, 7, 4]);
      const W = aspp.weights;
      const bn = (t: tf.Tensor, p: string) => {
        const scale = tf.div(W[`${p}.weight`]!, tf.sqrt(tf.add(W[`${p}.running_var`]!, 1e-5)));
        return tf.relu(tf.add(tf.mul(tf.sub(t, W[`${p}.running_mean`]!), scale), W[`${p}.bias`]!));
      };
      const conv = (t: tf.Tensor, w: string, d: number) =>
        tf.conv2d(t as tf.Tensor4D, W[w] as tf.Tensor4D, 1, 'same', 'NHWC', d);
      const branches = [
        bn(conv(x, 'convs.0.0.weight', 1), 'convs.0.1'),
        ...[12, 24, 36].map((d, i) => bn(conv(x, `convs.${i + 1}.0.weight`, d), `convs.${i + 1}.1`)),
      ];
      const pooled = bn(conv(tf.mean(x, [1, 2], true), 'convs.4.1.weight', 1), 'convs.4.2');
      branches.push(tf.add(pooled, tf.zeros([2, 9, 7, 4])));
      const ref = bn(conv(tf.concat(branches, 3), 'project.0.weight', 1), 'project.1');
      expect(testing.relativeError(y.dataSync(), ref.dataSync())).toBeLessThan(1e-5);
      tf.dispose([x, y, ref, ...branches, pooled]);
      aspp.dispose();
    });

    it('trains: parameter gradients equal finite differences, including the atrous branches', () => {
      const rng = createRng(2);
      const aspp = ASPP.create({ inChannels: 2, outChannels: 3, rates: [2, 3] }, rng);
      const x = rng.normal([1, 6, 5, 2]);
      for (const name of ['convs.1.0.weight', 'convs.2.0.weight', 'convs.3.1.weight', 'project.0.weight']) {
        const worst = testing.gradientCheck((w) => aspp.apply(x, { [name]: w! }), [aspp.weights[name]!], {
          samples: 6,
          epsilon: 1e-3,
        });
        expect(worst).toBeLessThan(5e-3);
      }
      expect(aspp.trainableNames()).not.toContain('project.1.running_mean');
      const leaks = testing.countLeaks(() => aspp.apply(x));
      expect(leaks.leaked).toBe(0);
      tf.dispose([x, leaks.result]);
      aspp.dispose();
    });

    it('rejects bad configs and inputs', () => {
      const rng = createRng(3);
      expect(() => ASPP.create({ inChannels: 2, outputStride: 32 as 16 }, rng)).toThrow(
        /conv\.ASPP: config\.outputStride must be 8 or 16, got 32/,
      );
      expect(() => ASPP.create({ inChannels: 2, rates: [6, 0, 18] }, rng)).toThrow(/config\.rates\[1\]/);
      expect(() => ASPP.create({ inChannels: 0 }, rng)).toThrow(/inChannels/);
      const aspp = ASPP.create({ inChannels: 2, outChannels: 2 }, rng);
      expect(() => aspp.apply(tf.zeros([1, 4, 4, 3]))).toThrow(ShapeError);
      expect(() => aspp.apply(tf.zeros([4, 4, 2]))).toThrow(/conv\.ASPP\.apply: x must be rank 4/);
      expect(() => aspp.apply(tf.zeros([1, 4, 4, 2]), { nope: tf.zeros([1]) })).toThrow(
        /unknown parameter "nope"/,
      );
      expect(() => ASPP.fromWeights({ inChannels: 2, outChannels: 2 }, {})).toThrow(
        /missing "convs\.0\.0\.weight"/,
      );
      aspp.dispose();
    });
  });

  describe('WaveNet', () => {
    const config = {
      inChannels: 2,
      outChannels: 3,
      residualChannels: 4,
      dilationChannels: 3,
      skipChannels: 5,
      dilations: [1, 2, 4, 8, 1, 2, 4, 8],
    };

    it('defaults to dilations 1…512 with a receptive field of 1024 (3070 for three blocks)', () => {
      const one = WaveNet.create(
        { inChannels: 1, residualChannels: 1, dilationChannels: 1, skipChannels: 1 },
        createRng(0),
      );
      expect(one.config.dilations).toEqual([1, 2, 4, 8, 16, 32, 64, 128, 256, 512]);
      expect(one.receptiveField).toBe(1024);
      one.dispose();
      const three = WaveNet.create(
        { inChannels: 1, residualChannels: 1, dilationChannels: 1, skipChannels: 1, blocks: 3 },
        createRng(0),
      );
      expect(three.config.dilations.length).toBe(30);
      expect(three.receptiveField).toBe(3070);
      three.dispose();
    });

    it('the streaming step equals the full causal forward, sample by sample', () => {
      for (const kernel of [2, 3]) {
        const net = WaveNet.create({ ...config, kernel }, createRng(kernel));
        const x = createRng(9).normal([2, 40, 2]);
        const full = net.forward(x);
        const state = net.initState(2);
        const steps: tf.Tensor[] = [];
        for (let t = 0; t < 40; t++) {
          const xt = tf.slice(x, [0, t, 0], [2, 1, 2]);
          steps.push(net.step(xt, state).y);
          xt.dispose();
        }
        const streamed = tf.concat(steps, 1);
        expect(testing.relativeError(streamed.dataSync(), full.dataSync())).toBeLessThan(1e-5);
        expect(state.position).toBe(40);
        net.disposeState(state);
        tf.dispose([x, full, streamed, ...steps]);
        net.dispose();
      }
    });

    it('streaming keeps a constant number of tensors per step (queues replace, not grow)', () => {
      const net = WaveNet.create(config, createRng(4));
      const state = net.initState(1);
      const x = tf.zeros([1, 1, 2]);
      const counts: number[] = [];
      for (let t = 0; t < 40; t++) {
        net.step(x, state).y.dispose();
        counts.push(tf.memory().numTensors);
      }
      // once every queue is full (after 8 + 8 = the longest queue), the count stays flat
      expect(new Set(counts.slice(20)).size).toBe(1);
      net.disposeState(state);
      x.dispose();
      net.dispose();
    });

    it('is causal: outputs before t do not depend on the input at t', () => {
      const net = WaveNet.create(config, createRng(5));
      const x = createRng(6).normal([1, 30, 2]);
      const g = tf.grad((input: tf.Tensor) => tf.sum(tf.slice(net.forward(input), [0, 0, 0], [1, 12, 3])))(x);
      const data = g.arraySync() as number[][][];
      for (let t = 0; t < 30; t++) {
        const mag = Math.abs(data[0]![t]![0]!) + Math.abs(data[0]![t]![1]!);
        if (t >= 12) expect(mag).toBe(0);
        else expect(mag).toBeGreaterThan(0);
      }
      tf.dispose([x, g]);
      net.dispose();
    });

    it('trains: gradients of the dilated gate weights equal finite differences', () => {
      const net = WaveNet.create(config, createRng(7));
      const x = createRng(8).normal([1, 20, 2]);
      for (const name of ['layers.3.gate.weight', 'layers.6.gate.weight', 'layers.2.skip.weight']) {
        const worst = testing.gradientCheck((w) => net.forward(x, { [name]: w! }), [net.weights[name]!], {
          samples: 6,
          epsilon: 1e-3,
        });
        expect(worst).toBeLessThan(5e-3);
      }
      x.dispose();
      net.dispose();
    });

    it('rejects bad configs, inputs and states', () => {
      expect(() => WaveNet.create({ inChannels: 2, dilations: [1, 0] }, createRng(0))).toThrow(
        /conv\.WaveNet: config\.dilations\[1\] must be a positive integer, got 0/,
      );
      expect(() => WaveNet.create({ inChannels: 2, dilations: [1], blocks: 2 }, createRng(0))).toThrow(
        /not both/,
      );
      const net = WaveNet.create(config, createRng(1));
      expect(() => net.forward(tf.zeros([1, 5, 3]))).toThrow(ShapeError);
      const state = net.initState(2);
      expect(() => net.step(tf.zeros([1, 1, 2]), state)).toThrow(
        /conv\.WaveNet\.step: x must be of shape \[2,1,2\]/,
      );
      expect(() => net.initState(0)).toThrow(ValueError);
      net.disposeState(state);
      net.dispose();
    });
  });
});
