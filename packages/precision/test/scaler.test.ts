import * as tf from '@tensorflow/tfjs-core';
import { initBackend, testing } from '@lab/tensor';
import { beforeAll, describe, expect, it } from 'vitest';
import { DynamicLossScaler, StaticLossScaler } from '../src/index.js';
import { fixture } from './helpers.js';

describe('DynamicLossScaler = torch.amp.GradScaler', () => {
  it('has GradScaler defaults', () => {
    const d = fixture().grad_scaler.defaults;
    const scaler = new DynamicLossScaler();
    expect(scaler.scale).toBe(d.init_scale);
    expect(scaler.growthFactor).toBe(d.growth_factor);
    expect(scaler.backoffFactor).toBe(d.backoff_factor);
    expect(scaler.growthInterval).toBe(d.growth_interval);
  });

  it('reproduces the GradScaler trajectory step by step (scale and skipped flags)', () => {
    const g = fixture().grad_scaler;
    const scaler = new DynamicLossScaler({
      initScale: g.init_scale,
      growthFactor: g.growth_factor,
      backoffFactor: g.backoff_factor,
      growthInterval: g.growth_interval,
    });
    const scales: number[] = [];
    const stepped: boolean[] = [];
    for (const nonfinite of g.nonfinite_at_step) {
      const finite = nonfinite === 0;
      stepped.push(finite); // the optimizer steps exactly when the gradients were finite
      scaler.update(finite);
      scales.push(scaler.scale);
    }
    expect(scales).toEqual(g.scale_after_update);
    expect(stepped).toEqual(g.optimizer_stepped);
    expect(scaler.skippedSteps).toBe(g.nonfinite_at_step.filter((v) => v !== 0).length);
  });

  it('grows after growthInterval finite steps, never past a finite float32, and respects minScale/maxScale', () => {
    const scaler = new DynamicLossScaler({ initScale: 2 ** 126, growthInterval: 1 });
    scaler.update(true);
    expect(scaler.scale).toBe(2 ** 127);
    scaler.update(true); // 2^128 overflows float32: kept at 2^127, as GradScaler
    expect(scaler.scale).toBe(2 ** 127);
    const bounded = new DynamicLossScaler({ initScale: 4, minScale: 1, maxScale: 8, growthInterval: 1 });
    for (let i = 0; i < 5; i++) bounded.update(false);
    expect(bounded.scale).toBe(1);
    for (let i = 0; i < 5; i++) bounded.update(true);
    expect(bounded.scale).toBe(8);
    const state = bounded.state();
    const restored = new DynamicLossScaler();
    restored.loadState(state);
    expect(restored.state()).toEqual(state);
  });

  it('rejects bad options', () => {
    expect(() => new DynamicLossScaler({ growthFactor: 1 })).toThrow(/precision\.DynamicLossScaler: options\.growthFactor must be a finite number > 1, got 1/);
    expect(() => new DynamicLossScaler({ backoffFactor: 2 })).toThrow(/options\.backoffFactor/);
    expect(() => new DynamicLossScaler({ growthInterval: 0.5 })).toThrow(/options\.growthInterval must be an integer >= 1/);
    expect(() => new DynamicLossScaler({ initscale: 2 } as never)).toThrow(/unknown option "initscale"/);
    expect(() => new DynamicLossScaler({ minScale: 4, maxScale: 2 })).toThrow(/minScale \(4\) must be <= options\.maxScale \(2\)/);
    expect(() => new DynamicLossScaler().update(1 as never)).toThrow(/DynamicLossScaler\.update: finite must be a boolean/);
    expect(() => new StaticLossScaler(0)).toThrow(/precision\.StaticLossScaler: scale must be a finite number > 0, got 0/);
  });
});

describe.each(['cpu', 'wasm'] as const)('%s', (backend) => {
  beforeAll(async () => {
    await initBackend(backend);
  });

  it('scales the loss and unscales gradients with the float32 reciprocal, flagging inf and NaN', () => {
    const scaler = new DynamicLossScaler({ initScale: 1024 });
    const { result, leaked } = testing.countLeaks(() => {
      const loss = tf.scalar(0.25);
      const scaled = scaler.scaleLoss(loss);
      const grads = { a: tf.tensor([1024, -2048, 3]), b: tf.tensor([[512]]) };
      const out = scaler.unscale(grads);
      const infGrads = { a: tf.tensor([1, Number.POSITIVE_INFINITY]), b: tf.tensor([2]) };
      const nanGrads = { a: tf.tensor([Number.NaN, 1]) };
      const bad = scaler.unscale(infGrads);
      const badNaN = scaler.unscale(nanGrads);
      const values = { scaled: scaled.dataSync()[0], a: Array.from(out.grads.a!.dataSync()), b: out.grads.b!.shape, finite: out.finite };
      const flags = [bad.finite, badNaN.finite];
      testing.disposeAll([loss, scaled, grads, infGrads, nanGrads, out.grads, bad.grads, badNaN.grads]);
      return { values, flags };
    });
    expect(leaked).toBe(0);
    expect(result.values).toEqual({ scaled: 256, a: [1, -2, Math.fround(3 / 1024)], b: [1, 1], finite: true });
    expect(result.flags).toEqual([false, false]);
    const fixed = new StaticLossScaler(8);
    const out = fixed.unscale({ g: tf.tensor([8, 16]) });
    expect(Array.from(out.grads.g!.dataSync())).toEqual([1, 2]);
    fixed.update(false);
    expect(fixed.scale).toBe(8);
    testing.disposeAll(out.grads);
  });
});
