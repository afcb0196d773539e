// SegmentationMetric: hand-checked FCN formulas (Long et al. 2015), conventions, weights, F-beta, streaming,
// merge, per-image aggregation, state round trip, and the mmseg-style table.
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '@lab/tensor';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  boundaryIoU,
  formatTable,
  SegmentationMetric,
  type SegmentationReport,
  syntheticScene,
} from '../src/index.js';

const close = (a: number, b: number) => expect(a).toBeCloseTo(b, 12);
const closeAll = (a: number[], b: number[]) => {
  expect(a.length).toBe(b.length);
  a.forEach((v, i) => {
    if (Number.isNaN(b[i]!)) expect(v).toBeNaN();
    else close(v, b[i]!);
  });
};

// target [0,0,0,1,1,255], pred [0,0,1,1,2,0], C = 4: class 2 only in the prediction, class 3 in neither.
const target = Int32Array.from([0, 0, 0, 1, 1, 255]);
const pred = Int32Array.from([0, 0, 1, 1, 2, 0]);
const opts = { numClasses: 4, ignoreIndex: 255 };

describe.each(['cpu', 'wasm'] as const)('%s', (backend) => {
  beforeAll(async () => {
    await initBackend(backend);
  });

  it('FCN formulas by hand, with a class absent from the ground truth (default NaN-and-skip)', () => {
    const r = new SegmentationMetric(opts).update(pred, target).compute();
    expect(Array.from(r.confusionMatrix)).toEqual([2, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    close(r.pixelAccuracy, 3 / 5);
    closeAll(r.accuracy, [2 / 3, 1 / 2, Number.NaN, Number.NaN]);
    close(r.meanPixelAccuracy, 7 / 12);
    closeAll(r.iou, [2 / 3, 1 / 3, 0, Number.NaN]);
    close(r.meanIoU, 1 / 3);
    close(r.fwIoU, (3 * (2 / 3) + 2 * (1 / 3)) / 5);
    closeAll(r.dice, [4 / 5, 1 / 2, 0, Number.NaN]);
    close(r.meanDice, 1.3 / 3);
    closeAll(r.precision, [1, 1 / 2, 0, Number.NaN]);
    closeAll(r.recall, r.accuracy);
    expect(r.support).toEqual([3, 2, 0, 0]);
    expect(r.pixels).toBe(5);
    expect(r.ignoredPixels).toBe(1);
  });

  it('conventions: torchmetrics, zero and one change exactly the empty classes and the means', () => {
    const m = new SegmentationMetric(opts).update(pred, target);
    const tm = m.compute({ convention: 'torchmetrics' });
    closeAll(tm.accuracy, [2 / 3, 1 / 2, 0, 0]);
    close(tm.meanPixelAccuracy, (2 / 3 + 1 / 2 + 0) / 3); // class 2 counts, class 3 does not
    close(tm.meanIoU, (2 / 3 + 1 / 3 + 0) / 3);
    const zero = m.compute({ convention: 'zero' });
    close(zero.meanIoU, (2 / 3 + 1 / 3) / 4);
    close(zero.meanPixelAccuracy, (2 / 3 + 1 / 2) / 4);
    const one = m.compute({ convention: 'one' });
    closeAll(one.iou, [2 / 3, 1 / 3, 0, 1]);
    close(one.meanIoU, (2 / 3 + 1 / 3 + 0 + 1) / 4);
    close(one.meanPixelAccuracy, (2 / 3 + 1 / 2 + 1 + 1) / 4);
    // Constructor option = compute override.
    const direct = new SegmentationMetric({ ...opts, convention: 'one' }).update(pred, target).compute();
    expect(direct.meanIoU).toBe(one.meanIoU);
  });

  it('F-beta and class weights', () => {
    const m = new SegmentationMetric({ ...opts, beta: 2 }).update(pred, target);
    const r = m.compute();
    // (1 + β²) tp / (β² t + p): class 0: 5·2 / (4·3 + 2); class 1: 5·1 / (4·2 + 2). Class 2 (only predicted)
    // has no recall, so its F-beta is NaN under mmseg's convention, and 0 / (0 + 1) = 0 under torchmetrics'.
    closeAll(r.fbeta, [10 / 14, 5 / 10, Number.NaN, Number.NaN]);
    close(r.meanFbeta, (10 / 14 + 0.5) / 2);
    const tm = m.compute({ convention: 'torchmetrics' });
    closeAll(tm.fbeta, [10 / 14, 5 / 10, 0, 0]);
    close(tm.meanFbeta, (10 / 14 + 0.5 + 0) / 3);
    // F1 = Dice wherever precision and recall are defined; with 'torchmetrics' everywhere.
    const f1 = m.compute({ beta: 1 });
    closeAll(f1.fbeta, [...f1.dice.slice(0, 2), Number.NaN, Number.NaN]);
    expect(m.compute({ beta: 1, convention: 'torchmetrics' }).fbeta).toEqual(tm.dice);
    close(m.compute({ classWeights: [1, 2, 0, 5] }).meanIoU, (2 / 3 + (2 * 1) / 3) / 3);
    close(m.compute({ classWeights: 'support' }).meanIoU, (3 * (2 / 3) + 2 * (1 / 3)) / 5);
  });

  it('streaming over batches equals one big update; merge equals sequential updates', () => {
    const { target: t, pred: p } = syntheticScene({ batch: 4, height: 48, width: 64, seed: 5, noise: 0.3 });
    const plane = 48 * 64;
    const whole = new SegmentationMetric({ numClasses: 19, ignoreIndex: 255 }).update(p, t, {
      shape: [4, 48, 64],
    });
    const streamed = new SegmentationMetric({ numClasses: 19, ignoreIndex: 255 });
    for (let b = 0; b < 4; b++) {
      const tt = tf.tensor(t.subarray(b * plane, (b + 1) * plane), [1, 48, 64], 'int32');
      const pp = tf.tensor(p.subarray(b * plane, (b + 1) * plane), [1, 48, 64], 'int32');
      streamed.update(pp, tt);
      tf.dispose([tt, pp]);
    }
    const a = whole.compute();
    const b = streamed.compute();
    expect(Array.from(b.confusionMatrix)).toEqual(Array.from(a.confusionMatrix));
    expect(b.meanIoU).toBe(a.meanIoU);
    expect(b.images).toBe(4);
    const left = new SegmentationMetric({ numClasses: 19, ignoreIndex: 255 }).update(
      p.subarray(0, 2 * plane),
      t.subarray(0, 2 * plane),
    );
    const right = new SegmentationMetric({ numClasses: 19, ignoreIndex: 255 }).update(
      p.subarray(2 * plane),
      t.subarray(2 * plane),
    );
    const merged = left.merge(right).compute();
    expect(Array.from(merged.confusionMatrix)).toEqual(Array.from(a.confusionMatrix));
    expect(merged.fwIoU).toBe(a.fwIoU);
    // reset clears everything.
    left.reset();
    expect(left.compute().pixels).toBe(0);
    expect(left.compute().meanIoU).toBeNaN();
  });

  it('per-image aggregation on a two-image case (torchmetrics MeanIoU / smp macro-imagewise)', () => {
    // A: t [0,0,1,1], p [0,0,1,0]; B: t [1,1,1,1], p [1,1,0,0].
    const t = tf.tensor([0, 0, 1, 1, 1, 1, 1, 1], [2, 2, 2], 'int32');
    const p = tf.tensor([0, 0, 1, 0, 1, 1, 0, 0], [2, 2, 2], 'int32');
    const image = new SegmentationMetric({ numClasses: 2, aggregation: 'image' }).update(p, t).compute();
    close(image.meanIoU, (7 / 12 + 1 / 4) / 2);
    closeAll(image.iou, [(2 / 3 + 0) / 2, (1 / 2 + 1 / 2) / 2]);
    close(image.pixelAccuracy, (3 / 4 + 2 / 4) / 2);
    // Class 0 has no target pixels in B: its accuracy is left out of B's mean (NaN convention).
    close(image.meanPixelAccuracy, ((1 + 1 / 2) / 2 + 1 / 2) / 2);
    const dataset = new SegmentationMetric({ numClasses: 2 }).update(p, t).compute();
    close(dataset.meanIoU, (2 / 5 + 1 / 2) / 2);
    expect(Array.from(image.confusionMatrix)).toEqual(Array.from(dataset.confusionMatrix));
    // Image aggregation streams and merges too.
    const a = new SegmentationMetric({ numClasses: 2, aggregation: 'image' });
    const first = [tf.slice(p, [0, 0, 0], [1, 2, 2]), tf.slice(t, [0, 0, 0], [1, 2, 2])] as const;
    const second = [tf.slice(p, [1, 0, 0], [1, 2, 2]), tf.slice(t, [1, 0, 0], [1, 2, 2])] as const;
    a.update(first[0], first[1]);
    const b = new SegmentationMetric({ numClasses: 2, aggregation: 'image' }).update(second[0], second[1]);
    expect(a.merge(b).compute().meanIoU).toBe(image.meanIoU);
    tf.dispose([t, p, ...first, ...second]);
  });

  it('state() / fromState() round trip (for workers) and classNames in the table', () => {
    const names = ['road', 'car', 'sky', 'person'];
    const m = new SegmentationMetric({ ...opts, classNames: names, boundary: false }).update(pred, target);
    const copy = SegmentationMetric.fromState(structuredClone(m.state()));
    expect(copy.compute()).toEqual(m.compute());
    const table = formatTable(m.compute(), { columns: ['IoU', 'Acc', 'Dice'] });
    const lines = table.split('\n');
    expect(lines[0]).toBe('per class results:');
    expect(table).toContain('road');
    expect(table).toContain('66.67'); // IoU of road, in percent
    expect(table).toContain('nan'); // person: IoU NaN
    expect(table).toContain('33.33'); // mIoU
    const widths = new Set(
      lines
        .filter((l) => l.startsWith('|') || l.startsWith('+'))
        .slice(0, 8)
        .map((l) => l.length),
    );
    expect(widths.size).toBe(1);
  });

  it('pred equal to ignoreIndex at a labelled pixel is a miss (mmseg areas), not dropped', () => {
    const t = Uint8Array.from([0, 0, 1, 1]);
    const p = Uint8Array.from([0, 255, 1, 1]);
    const r: SegmentationReport = new SegmentationMetric({ numClasses: 2, ignoreIndex: 255 })
      .update(p, t)
      .compute();
    expect(r.unpredicted).toEqual([1, 0]);
    expect(r.support).toEqual([2, 2]);
    close(r.pixelAccuracy, 3 / 4);
    closeAll(r.iou, [1 / 2, 1]);
    closeAll(r.precision, [1, 1]);
  });

  it('ignoreIndex inside [0, C) drops those target pixels but stays a class in the prediction', () => {
    const t = Int32Array.from([0, 0, 1, 2, 2]);
    const p = Int32Array.from([0, 1, 0, 2, 0]);
    const r = new SegmentationMetric({ numClasses: 3, ignoreIndex: 0 }).update(p, t).compute();
    expect(Array.from(r.confusionMatrix)).toEqual([0, 0, 0, 1, 0, 0, 1, 0, 1]);
    expect(r.ignoredPixels).toBe(2);
  });

  it('boundary IoU tracked by the metric equals boundaryIoU() and is 1 for a perfect prediction', () => {
    const { target: t, pred: p } = syntheticScene({ batch: 2, height: 40, width: 56, seed: 8 });
    const m = new SegmentationMetric({ numClasses: 19, ignoreIndex: 255, boundary: true });
    m.update(p, t, { shape: [2, 40, 56] });
    const r = m.compute();
    expect(r.meanBoundaryIoU).toBeGreaterThan(0);
    expect(r.meanBoundaryIoU).toBeLessThan(1);
    expect(r.meanBoundaryIoU!).toBeLessThan(r.meanIoU); // boundaries are harder than areas
    const direct = boundaryIoU(p, t, { numClasses: 19, ignoreIndex: 255, shape: [2, 40, 56] });
    expect(direct.iou).toEqual(r.boundaryIoU);
    expect(direct.meanIoU).toBe(r.meanBoundaryIoU);
    const perfect = new SegmentationMetric({ numClasses: 19, ignoreIndex: 255, boundary: { dilation: 2 } })
      .update(t, t, { shape: [2, 40, 56] })
      .compute();
    expect(perfect.boundaryIoU!.filter((v) => !Number.isNaN(v)).every((v) => v === 1)).toBe(true);
  });
});
