// Bad input: a clear error naming function, argument, expected and received, before any work; the metric's
// state is untouched by a failed update.
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, setForceKernelFallback, ShapeError, ValueError } from '@lab/tensor';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { boundaryIoU, confusionMatrix, formatTable, SegmentationMetric } from '../src/index.js';

describe.each(['cpu', 'wasm'] as const)('%s', (backend) => {
  beforeAll(async () => {
    await initBackend(backend);
  });
  afterEach(() => setForceKernelFallback(false));

  it.each([false, true])(
    'a label outside [0, C) throws a RangeError naming the value and its position (fallback %s)',
    (fallback) => {
      setForceKernelFallback(fallback);
      const t = new Uint8Array(2 * 4 * 5);
      const p = new Uint8Array(2 * 4 * 5);
      t[27] = 7; // batch 1, row 1, column 2
      expect(() => confusionMatrix(p, t, { numClasses: 6, ignoreIndex: 255, shape: [2, 4, 5] })).toThrowError(
        new RangeError(
          'segmetrics.confusionMatrix: target must be class labels in [0, 6) or the ignoreIndex 255, got 7 at index 27 (position [1,1,2] of shape [2,4,5])',
        ),
      );
      t[27] = 0;
      p[3] = 6;
      expect(() => confusionMatrix(p, t, { numClasses: 6 })).toThrowError(
        /pred must be class labels in \[0, 6\), got 6 at index 3/,
      );
      const tt = tf.tensor(
        [
          [0, 1],
          [-1, 0],
        ],
        [2, 2],
        'int32',
      );
      const pp = tf.zeros([2, 2], 'int32');
      expect(() => confusionMatrix(pp, tt, { numClasses: 2 })).toThrowError(
        /got -1 at index 2 \(position \[1,0\] of shape \[2,2\]\)/,
      );
      tf.dispose([tt, pp]);
    },
  );

  it('non-integer labels, NaN, bad numClasses, bad options and dtypes', () => {
    const f = Float32Array.from([0, 1.5, 1]);
    const z = new Float32Array(3);
    expect(() => confusionMatrix(z, f, { numClasses: 2 })).toThrowError(ValueError);
    expect(() => confusionMatrix(z, f, { numClasses: 2 })).toThrowError(
      /target must be integer class labels in \[0, 2\), got 1.5 at index 1/,
    );
    expect(() => confusionMatrix([0, Number.NaN], [0, 0], { numClasses: 2 })).toThrowError(
      /pred must be integer .* got NaN at index 1/,
    );
    expect(() => confusionMatrix([0], [0], { numClasses: 0 })).toThrowError(
      'segmetrics.confusionMatrix: numClasses must be an integer in [1, 1024], got 0',
    );
    expect(() => confusionMatrix([0], [0], { numClasses: 2.5 })).toThrowError(
      /numClasses must be an integer/,
    );
    expect(() => new SegmentationMetric({ numClasses: 5000 })).toThrowError(
      /numClasses must be an integer in \[1, 1024\], got 5000/,
    );
    expect(() => confusionMatrix([0], [0], { numClasses: 2, ignoreIndex: 0.5 })).toThrowError(
      /ignoreIndex must be an integer/,
    );
    expect(() => confusionMatrix([0], [0], { numClasses: 2, ignorIndex: 255 } as never)).toThrowError(
      /unknown option "ignorIndex"/,
    );
    expect(() => confusionMatrix('abc' as never, [0], { numClasses: 2 })).toThrowError(
      /pred must be a tf.Tensor, a typed array or a number\[\] of labels, got string abc/,
    );
    const s = tf.tensor(['a'], [1], 'string');
    expect(() => confusionMatrix(s, [0], { numClasses: 2 })).toThrowError(
      /pred must be an int32, float32 or bool tensor/,
    );
    s.dispose();
  });

  it('shapes that differ: a ShapeError naming both (and a hint for logits)', () => {
    const a = tf.zeros([2, 4, 5], 'int32');
    const b = tf.zeros([2, 5, 4], 'int32');
    const logits = tf.zeros([2, 4, 5, 3]);
    expect(() => confusionMatrix(a, b, { numClasses: 3 })).toThrowError(ShapeError);
    expect(() => confusionMatrix(a, b, { numClasses: 3 })).toThrowError(
      'segmetrics.confusionMatrix: pred and target must have the same shape, got pred [2,4,5] and target [2,5,4]',
    );
    expect(() => confusionMatrix(logits, a, { numClasses: 3 })).toThrowError(/pass \{ fromLogits: true \}/);
    expect(() => confusionMatrix(logits, b, { numClasses: 3, fromLogits: true })).toThrowError(
      /pred must be logits of shape \[2,5,4,3\] \[\.\.\.target shape, numClasses\], got shape \[2,4,5,3\]/,
    );
    expect(() => confusionMatrix([0, 1, 2], [0, 1], { numClasses: 3 })).toThrowError(
      /same number of pixels, got 3 and 2/,
    );
    expect(() => confusionMatrix([0, 1], [0, 1], { numClasses: 3, shape: [3] })).toThrowError(
      /shape must be a shape with 2 elements/,
    );
    expect(() => boundaryIoU([0, 1], [0, 1], { numClasses: 2 })).toThrowError(
      /rank ≥ 2 \[\.\.\., height, width\]/,
    );
    tf.dispose([a, b, logits]);
  });

  it("a failed update leaves the metric's state untouched", () => {
    for (const aggregation of ['dataset', 'image'] as const) {
      const m = new SegmentationMetric({ numClasses: 3, ignoreIndex: 255, aggregation, boundary: true });
      m.update(Uint8Array.from([0, 1, 2, 2]), Uint8Array.from([0, 1, 2, 1]), { shape: [1, 2, 2] });
      const before = m.compute();
      const badTarget = Uint8Array.from([0, 1, 2, 3]);
      expect(() => m.update(Uint8Array.from([0, 0, 0, 0]), badTarget, { shape: [1, 2, 2] })).toThrowError(
        RangeError,
      );
      expect(() => m.update(Uint8Array.from([0, 0, 0]), Uint8Array.from([0, 0, 0, 0]))).toThrowError(
        ShapeError,
      );
      expect(() => m.update([0, 0, 0, 0.5], [0, 0, 0, 0])).toThrowError(ValueError);
      expect(m.compute()).toEqual(before);
    }
  });

  it('metric options, merge and table checks', () => {
    expect(() => new SegmentationMetric({ numClasses: 3, classNames: ['a', 'b'] })).toThrowError(
      /classNames must be an array of numClasses \(3\) strings, got an array of length 2/,
    );
    expect(() => new SegmentationMetric({ numClasses: 3, convention: 'mmseg' as never })).toThrowError(
      /convention must be one of "nan", "torchmetrics", "zero", "one", got "mmseg"/,
    );
    expect(() => new SegmentationMetric({ numClasses: 2, classWeights: [1, -1] })).toThrowError(
      /classWeights\[1\] must be/,
    );
    expect(() => new SegmentationMetric({ numClasses: 2, aggregation: 'batch' as never })).toThrowError(
      /aggregation must be one of/,
    );
    const a = new SegmentationMetric({ numClasses: 2 });
    expect(() => a.merge(new SegmentationMetric({ numClasses: 3 }))).toThrowError(
      'segmetrics.SegmentationMetric.merge: other.numClasses (3) must equal this.numClasses (2)',
    );
    expect(() => a.merge(new SegmentationMetric({ numClasses: 2, ignoreIndex: 255 }))).toThrowError(
      /ignoreIndex/,
    );
    expect(() => formatTable(a.compute(), { columns: ['BIoU'] })).toThrowError(
      /needs a report with boundaryIoU/,
    );
  });
});
