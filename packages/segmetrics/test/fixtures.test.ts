// Against torchmetrics 1.9 (Multiclass* metrics, ignore_index=255): test/fixtures/segmetrics.json.
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, setForceKernelFallback, testing } from '@lab/tensor';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import fixture from './fixtures/segmetrics.json';
import { confusionMatrix, SegmentationMetric } from '../src/index.js';

interface Case {
  num_classes: number;
  ignore_index: number;
  target: testing.FixtureArray;
  pred: testing.FixtureArray;
  torchmetrics: Record<string, testing.FixtureArray>;
}
const cases = (fixture as unknown as { cases: Case[] }).cases;
const expected = (c: Case, key: string) => Array.from(testing.fixtureData(c.torchmetrics[key]!));

/** torchmetrics computes in float32: allow its rounding (a few float32 ulps relative). */
function expectClose(actual: number, ref: number): void {
  expect(Math.abs(actual - ref)).toBeLessThanOrEqual(4e-7 * Math.max(1, Math.abs(ref)));
}

describe.each(['cpu', 'wasm'] as const)('%s', (backend) => {
  beforeAll(async () => {
    await initBackend(backend);
  });
  afterEach(() => setForceKernelFallback(false));

  describe.each(cases.map((c, i) => [i, c] as const))('case %i', (_i, c) => {
    const C = c.num_classes;
    const shape = c.target.shape;
    const targetU8 = Uint8Array.from(c.target.data as number[]);
    const predU8 = Uint8Array.from(c.pred.data as number[]);

    it.each([
      ['Uint8Array', false],
      ['Uint8Array (fallback)', true],
    ])('confusion matrix from %s equals torchmetrics exactly', (_name, fallback) => {
      setForceKernelFallback(fallback);
      const cm = confusionMatrix(predU8, targetU8, { numClasses: C, ignoreIndex: c.ignore_index });
      expect(Array.from(cm)).toEqual(expected(c, 'confusion_matrix'));
    });

    it('confusion matrix from int32 and float32 tensors and number[] equals torchmetrics exactly', () => {
      const ref = expected(c, 'confusion_matrix');
      const t = tf.tensor(c.target.data as number[], shape, 'int32');
      const p = tf.tensor(c.pred.data as number[], shape, 'int32');
      const before = tf.memory().numTensors;
      expect(Array.from(confusionMatrix(p, t, { numClasses: C, ignoreIndex: c.ignore_index }))).toEqual(ref);
      expect(tf.memory().numTensors).toBe(before);
      const tf32 = tf.cast(t, 'float32');
      const pf32 = tf.cast(p, 'float32');
      expect(Array.from(confusionMatrix(pf32, tf32, { numClasses: C, ignoreIndex: c.ignore_index }))).toEqual(
        ref,
      );
      const arrays = confusionMatrix(c.pred.data as number[], c.target.data as number[], {
        numClasses: C,
        ignoreIndex: c.ignore_index,
      });
      expect(Array.from(arrays)).toEqual(ref);
      tf.dispose([t, p, tf32, pf32]);
    });

    it('per-class values equal torchmetrics wherever the class has target pixels (default convention)', () => {
      const report = new SegmentationMetric({ numClasses: C, ignoreIndex: c.ignore_index })
        .update(predU8, targetU8, { shape })
        .compute();
      expectClose(report.pixelAccuracy, expected(c, 'pixel_accuracy_micro')[0]!);
      const pairs: [number[], string][] = [
        [report.accuracy, 'class_accuracy_none'],
        [report.iou, 'iou_none'],
        [report.dice, 'f1_none'],
        [report.precision, 'precision_none'],
        [report.recall, 'recall_none'],
      ];
      for (let k = 0; k < C; k++) {
        if (report.support[k] === 0) {
          // FCN / mmseg: accuracy (recall) of a class without target pixels is NaN, not torchmetrics' 0.
          expect(report.accuracy[k]).toBeNaN();
          continue;
        }
        for (const [ours, key] of pairs) expectClose(ours[k]!, expected(c, key)[k]!);
      }
    });

    it("the 'torchmetrics' convention reproduces every per-class value and macro mean", () => {
      const report = new SegmentationMetric({
        numClasses: C,
        ignoreIndex: c.ignore_index,
        convention: 'torchmetrics',
      })
        .update(
          tf.tensor(c.pred.data as number[], shape, 'int32'),
          tf.tensor(c.target.data as number[], shape, 'int32'),
        )
        .compute();
      const pairs: [number[], string][] = [
        [report.accuracy, 'class_accuracy_none'],
        [report.iou, 'iou_none'],
        [report.dice, 'f1_none'],
        [report.precision, 'precision_none'],
        [report.recall, 'recall_none'],
      ];
      for (const [ours, key] of pairs) {
        ours.forEach((v, k) => {
          expectClose(v, expected(c, key)[k]!);
        });
      }
      expectClose(report.meanPixelAccuracy, expected(c, 'class_accuracy_macro')[0]!);
      expectClose(report.meanIoU, expected(c, 'iou_macro')[0]!);
      expectClose(report.meanDice, expected(c, 'f1_macro')[0]!);
      expectClose(report.pixelAccuracy, expected(c, 'pixel_accuracy_micro')[0]!);
    });

    it("the default 'nan' convention differs from torchmetrics only by the classes it leaves out", () => {
      const report = new SegmentationMetric({ numClasses: C, ignoreIndex: c.ignore_index })
        .update(predU8, targetU8)
        .compute();
      // mAcc over classes with target pixels only.
      const acc = expected(c, 'class_accuracy_none').filter((_, k) => report.support[k]! > 0);
      expectClose(report.meanPixelAccuracy, acc.reduce((a, b) => a + b, 0) / acc.length);
      // mIoU: a class only in the prediction has IoU 0 and counts (mmseg); a class in neither is NaN.
      const iou = expected(c, 'iou_none');
      const present = iou.filter((_, k) => !Number.isNaN(report.iou[k]!));
      expectClose(report.meanIoU, present.reduce((a, b) => a + b, 0) / present.length);
    });
  });
});
