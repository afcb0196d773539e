/**
 * The composite reference of the label histogram, in plain tfjs ops: the way a tfjs user writes FCN's
 * `fast_hist` (`tf.denseBincount(target * C + pred)`), extended to the same S × S code histogram as the fused
 * kernels (S = C + 2: code C = ignoreIndex, code C + 1 = bad label) so that the two can be compared exactly.
 * Used on backends without fused kernels (webgl, webgpu: counting stays on the device) and by the tests.
 */
import * as tf from '@tensorflow/tfjs-core';
import { type HistogramSpec, ignoreMode } from './kernels/histogram.js';

/** Label codes of a label tensor [...dims] → int32 [...dims] (see the module comment). */
function codes(x: tf.Tensor, C: number, ignoreIndex: number | undefined, useIgnore: boolean): tf.Tensor {
  const xf = tf.cast(x, 'float32');
  const integer = tf.equal(xf, tf.floor(xf)); // false for NaN; true for ±Infinity (caught by finite)
  const finite = tf.logicalNot(tf.logicalOr(tf.isNaN(xf), tf.isInf(xf)));
  const inRange = tf.logicalAnd(tf.greaterEqual(xf, 0), tf.less(xf, C));
  const valid = tf.logicalAnd(tf.logicalAnd(integer, finite), inRange);
  let code = tf.where(valid, xf, tf.scalar(C + 1));
  if (useIgnore && ignoreIndex !== undefined) code = tf.where(tf.equal(xf, ignoreIndex), tf.scalar(C), code);
  return tf.cast(code, 'int32');
}

function bincount(index: tf.Tensor, size: number): tf.Tensor {
  // Arithmetic with a JS number promotes int32 to float32: cast back (indices < 2^24 are exact).
  const flat = tf.reshape(tf.cast(index, 'int32'), [-1]) as tf.Tensor1D;
  return tf.denseBincount(flat, tf.tensor1d([], 'int32'), size);
}

/** Downloads and disposes a counts tensor. */
function download(counts: tf.Tensor): Float64Array {
  const out = Float64Array.from(counts.dataSync());
  counts.dispose();
  return out;
}

/** The S × S code histogram of target and pred label tensors (same shape), with tfjs ops. */
export function histogramComposite(target: tf.Tensor, pred: tf.Tensor, spec: HistogramSpec): Float64Array {
  const C = spec.numClasses;
  const S = C + 2;
  const mode = ignoreMode(spec);
  return download(
    tf.tidy(() => {
      const tc = codes(target, C, spec.ignoreIndex, (mode & 1) !== 0);
      const pc = codes(pred, C, spec.ignoreIndex, (mode & 2) !== 0);
      return bincount(tf.add(tf.mul(tc, S), pc), S * S);
    }),
  );
}

/** The S × S code histogram of a target label tensor [...dims] and logits [...dims, C], with tfjs ops. */
export function histogramLogitsComposite(
  target: tf.Tensor,
  logits: tf.Tensor,
  spec: HistogramSpec,
): Float64Array {
  const C = spec.numClasses;
  const S = C + 2;
  const mode = ignoreMode(spec);
  return download(
    tf.tidy(() => {
      const tc = codes(target, C, spec.ignoreIndex, (mode & 1) !== 0);
      const pc = tf.argMax(logits, -1);
      return bincount(tf.add(tf.mul(tc, S), pc), S * S);
    }),
  );
}

/**
 * The confusion matrix [C * C] of label tensors as a tfjs user writes it (FCN's fast_hist with tfjs ops):
 * `denseBincount(where(target ≠ ignore, target · C + pred, C²))`, no checks of the labels. The baseline of
 * the benchmarks.
 */
export function confusionMatrixTfjs(
  pred: tf.Tensor,
  target: tf.Tensor,
  options: { numClasses: number; ignoreIndex?: number },
): Float64Array {
  const C = options.numClasses;
  return download(
    tf.tidy(() => {
      const t = tf.cast(target, 'int32');
      const p = tf.cast(pred, 'int32');
      let index = tf.cast(tf.add(tf.mul(t, C), p), 'int32');
      if (options.ignoreIndex !== undefined) {
        index = tf.where(tf.equal(t, options.ignoreIndex), tf.scalar(C * C, 'int32'), index);
      }
      return bincount(index, C * C);
    }),
  );
}
