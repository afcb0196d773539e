/**
 * Helpers for tests across the toolkit (framework-free: they return numbers or throw): reading golden
 * fixtures, relative errors, finite-difference gradient checks and leak checks.
 */
import * as tf from '@tensorflow/tfjs-core';

/** A fixture array as written by the reference scripts: flat row-major data, `null` = NaN, "inf"/"-inf". */
export interface FixtureArray {
  shape: number[];
  data: (number | string | null)[];
}

/** Decodes a fixture array's data to a Float64Array. */
export function fixtureData(array: FixtureArray): Float64Array {
  return Float64Array.from(array.data, (v) =>
    v === null ? Number.NaN : v === 'inf' ? Number.POSITIVE_INFINITY : v === '-inf' ? Number.NEGATIVE_INFINITY : Number(v),
  );
}

/** A float32 tensor from a fixture array. */
export function fixtureTensor(array: FixtureArray): tf.Tensor {
  return tf.tensor(Float32Array.from(fixtureData(array)), array.shape, 'float32');
}

/** ‖actual − expected‖₂ / ‖expected‖₂ (or the absolute norm when the reference is all zeros). */
export function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  if (actual.length !== expected.length) {
    throw new Error(`relativeError: lengths differ (${actual.length} vs ${expected.length})`);
  }
  let num = 0;
  let den = 0;
  for (let i = 0; i < actual.length; i++) {
    const d = actual[i]! - expected[i]!;
    num += d * d;
    den += expected[i]! * expected[i]!;
  }
  return den === 0 ? Math.sqrt(num) : Math.sqrt(num / den);
}

/** max |actual − expected|. */
export function maxAbsError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < actual.length; i++) m = Math.max(m, Math.abs(actual[i]! - expected[i]!));
  return m;
}

/**
 * Checks `tf.grads` of `f` (reduced by a fixed random projection) against central finite differences, in
 * float32, at up to `samples` coordinates of each input. Returns the largest relative error found
 * (|analytic − numeric| / max(1, |numeric|) scaled by the gradient's norm).
 */
export function gradientCheck(
  f: (...xs: tf.Tensor[]) => tf.Tensor,
  inputs: tf.Tensor[],
  options: { epsilon?: number; samples?: number; seed?: number } = {},
): number {
  const { epsilon = 1e-2, samples = 12, seed = 7 } = options;
  let state = seed >>> 0;
  const random = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 4294967296;
  };
  const probe = tf.tidy(() => f(...inputs));
  const projection = tf.tensor(Float32Array.from({ length: probe.size }, () => random() * 2 - 1), probe.shape);
  probe.dispose();
  const scalar = (...xs: tf.Tensor[]) => tf.sum(tf.mul(f(...xs), projection));
  const grads = tf.tidy(() => tf.grads(scalar)(inputs).map((g) => g.dataSync().slice()));
  let worst = 0;
  inputs.forEach((x, which) => {
    const base = x.dataSync().slice();
    const analytic = grads[which]!;
    let norm = 0;
    for (const g of analytic) norm = Math.max(norm, Math.abs(g));
    for (let s = 0; s < Math.min(samples, base.length); s++) {
      const idx = Math.floor(random() * base.length);
      const evalAt = (delta: number) =>
        tf.tidy(() => {
          const moved = base.slice();
          moved[idx] = moved[idx]! + delta;
          const xs = inputs.map((t, i) => (i === which ? tf.tensor(moved, t.shape) : t));
          return scalar(...xs).dataSync()[0]!;
        });
      const numeric = (evalAt(epsilon) - evalAt(-epsilon)) / (2 * epsilon);
      const err = Math.abs(analytic[idx]! - numeric) / Math.max(1, norm, Math.abs(numeric));
      worst = Math.max(worst, err);
    }
  });
  projection.dispose();
  return worst;
}

/** Runs `fn` and returns its result with the number of tensors it left allocated beyond what it returned. */
export function countLeaks<T>(fn: () => T): { result: T; leaked: number } {
  const before = tf.memory().numTensors;
  const result = fn();
  const returned = countTensors(result);
  return { result, leaked: tf.memory().numTensors - before - returned };
}

function countTensors(value: unknown): number {
  if (value instanceof tf.Tensor) return 1;
  if (Array.isArray(value)) return value.reduce((n: number, v) => n + countTensors(v), 0);
  if (value && typeof value === 'object') return Object.values(value).reduce((n: number, v) => n + countTensors(v), 0);
  return 0;
}

/** Disposes every tensor in a (nested) result. */
export function disposeAll(value: unknown): void {
  if (value instanceof tf.Tensor) value.dispose();
  else if (Array.isArray(value)) value.forEach(disposeAll);
  else if (value && typeof value === 'object') Object.values(value).forEach(disposeAll);
}
