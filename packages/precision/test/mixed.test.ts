import * as tf from '@tensorflow/tfjs-core';
import { createRng, initBackend, testing } from '@lab/tensor';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  analyzeRange,
  type ComputeFormat,
  DynamicLossScaler,
  MixedPrecisionOptimizer,
  type MixedPrecisionOptions,
  StaticLossScaler,
} from '../src/index.js';

/**
 * A small regression MLP (8 → 32 → 1, ReLU) whose loss is weighted by 1e-6, as an auxiliary loss term might
 * be: its gradients (~1e-9) lie below the smallest float16 subnormal (6e-8), the situation of Micikevicius et
 * al. 2018, Figure 3. Adam's update does not depend on the gradient's magnitude, so FP32 trains normally.
 */
function problem(seed: number) {
  const rng = createRng(seed);
  const x = rng.normal([256, 8]);
  const teacher = rng.normal([8, 1]);
  const y = tf.tidy(() => tf.tanh(tf.matMul(x, teacher)));
  const init = { w1: tf.mul(rng.normal([8, 32]), 0.3), b1: tf.zeros([32]), w2: tf.mul(rng.normal([32, 1]), 0.3), b2: tf.zeros([1]) };
  teacher.dispose();
  return { x, y, init };
}

type Problem = ReturnType<typeof problem>;
const LOSS_WEIGHT = 1e-6;

function train(p: Problem, format: ComputeFormat, lossScaler: MixedPrecisionOptions['lossScaler'], steps: number) {
  const vars = Object.fromEntries(Object.entries(p.init).map(([k, v]) => [k, tf.variable(v)])) as Record<string, tf.Variable>;
  const optimizer = tf.train.adam(0.02);
  const mp = new MixedPrecisionOptimizer(optimizer, { format, lossScaler });
  const losses: number[] = [];
  let skipped = 0;
  for (let i = 0; i < steps; i++) {
    const r = mp.minimize((w, cast) => {
      const h = cast(tf.relu(tf.add(tf.matMul(cast(p.x), w.w1!), w.b1!)));
      const pred = cast(tf.add(tf.matMul(h, w.w2!), w.b2!));
      return tf.mul(tf.mean(tf.square(tf.sub(pred, p.y))), LOSS_WEIGHT);
    }, vars);
    losses.push(r.loss / LOSS_WEIGHT);
    if (r.skipped) skipped++;
  }
  optimizer.dispose();
  for (const v of Object.values(vars)) v.dispose();
  return { losses, skipped, scale: mp.lossScaler?.scale ?? 1 };
}

describe.each(['cpu', 'wasm'] as const)('%s', (backend) => {
  beforeAll(async () => {
    await initBackend(backend);
  });

  it('FP16 without loss scaling fails (gradients underflow); with dynamic scaling it matches FP32', () => {
    const p = problem(3);
    const steps = 120;
    const before = tf.memory().numTensors;
    const fp32 = train(p, 'float32', null, steps);
    const fp16 = train(p, 'float16', null, steps);
    const scaled = train(p, 'float16', 'dynamic', steps);
    expect(tf.memory().numTensors).toBe(before);
    const initial = fp32.losses[0]!;
    const final32 = fp32.losses.at(-1)!;
    // FP32 learns.
    expect(final32).toBeLessThan(0.2 * initial);
    // FP16 without scaling: nearly every gradient rounds to zero (the few that survive as subnormals barely
    // move Adam): the loss stays near where it started (measured: 1.70 → 1.49, against 0.081 in FP32).
    expect(fp16.losses.at(-1)!).toBeGreaterThan(0.8 * initial);
    expect(fp16.losses.at(-1)!).toBeGreaterThan(10 * final32);
    // FP16 with dynamic scaling (2^16): no overflow here, the same curve as FP32 within 5% at the end.
    expect(scaled.skipped).toBe(0);
    expect(Math.abs(scaled.losses.at(-1)! - final32) / final32).toBeLessThan(0.05);
    testing.disposeAll(p);
  });

  it('the gradients of that network are below the float16 range, and scaling by 2^16 lifts them into it', () => {
    const p = problem(3);
    const grads = tf.tidy(() =>
      tf.grads((w1: tf.Tensor, w2: tf.Tensor) => {
        const h = tf.relu(tf.matMul(p.x, w1));
        return tf.mul(tf.mean(tf.square(tf.sub(tf.matMul(h, w2), p.y))), LOSS_WEIGHT);
      })([p.init.w1, p.init.w2]),
    );
    const plain = analyzeRange(grads, 'float16');
    expect(plain.fractions.underflow + plain.fractions.subnormal).toBeGreaterThan(0.9);
    const lifted = tf.tidy(() => grads.map((g) => tf.mul(g, 2 ** 16)));
    const scaledRange = analyzeRange(lifted, 'float16');
    expect(scaledRange.fractions.underflow).toBeLessThan(0.01);
    expect(scaledRange.overflow).toBe(0);
    testing.disposeAll([grads, lifted, p]);
  });

  it('skips the step and backs off on overflow, leaving the master weights untouched', () => {
    const w = tf.variable(tf.tensor([1, 2, 3]));
    const before = Array.from(w.dataSync());
    const optimizer = tf.train.sgd(0.1);
    const loss = (v: tf.NamedTensorMap) => tf.sum(tf.square(v.w!));
    // 2^20 · dL/dw overflows float16 (> 65504): skipped, and a static scale never recovers.
    const fixed = new MixedPrecisionOptimizer(optimizer, { lossScaler: new StaticLossScaler(2 ** 20) });
    const r1 = fixed.minimize(loss, { w });
    expect(r1).toMatchObject({ skipped: true, scale: 2 ** 20 });
    expect(r1.loss).toBeCloseTo(14, 5);
    expect(Array.from(w.dataSync())).toEqual(before);
    // GradScaler's default 2^16 overflows too (2^16 · 6 > 65504): it backs off until the gradients fit.
    const dynamic = new MixedPrecisionOptimizer(optimizer, { lossScaler: new DynamicLossScaler() });
    const results = Array.from({ length: 6 }, () => dynamic.minimize(loss, { w }));
    expect(results.map((r) => r.skipped)).toEqual([true, true, true, false, false, false]);
    expect(results.map((r) => r.scaleUsed)).toEqual([2 ** 16, 2 ** 15, 2 ** 14, 2 ** 13, 2 ** 13, 2 ** 13]);
    expect(results.at(-1)!.scale).toBe(2 ** 13);
    expect(w.dataSync()[0]).toBeLessThan(1);
    // bfloat16 has float32's range: no scaling needed for it.
    const bf16 = new MixedPrecisionOptimizer(optimizer, { format: 'bfloat16', lossScaler: null });
    expect(bf16.minimize(loss, { w }).skipped).toBe(false);
    optimizer.dispose();
    w.dispose();
  });

  it('rejects bad arguments', () => {
    const optimizer = tf.train.sgd(0.1);
    expect(() => new MixedPrecisionOptimizer({} as never)).toThrow(/precision\.MixedPrecisionOptimizer: optimizer must be a tf\.Optimizer/);
    expect(() => new MixedPrecisionOptimizer(optimizer, { format: 'fp8e4m3' as never })).toThrow(/options\.format must be one of "float16", "bfloat16", "float32"/);
    expect(() => new MixedPrecisionOptimizer(optimizer, { lossScaler: 'auto' as never })).toThrow(/options\.lossScaler must be a LossScaler/);
    const mp = new MixedPrecisionOptimizer(optimizer);
    const t = tf.tensor([1]);
    expect(() => mp.minimize((w) => w.a!, { a: t as never })).toThrow(/MixedPrecisionOptimizer\.minimize: vars\["a"\] must be a tf\.Variable/);
    const v = tf.variable(tf.tensor([1, 2]));
    expect(() => mp.minimize((w) => w.a!, { a: v })).toThrow(/lossFn must be a function returning a scalar tensor/);
    testing.disposeAll([t, v]);
    optimizer.dispose();
  });
});
