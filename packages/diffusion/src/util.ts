/**
 * Internal helpers: argument checks shared by every sampler, denoiser calls with a per-row σ, noise sources.
 */

import {
  argumentMessage,
  assertTensor,
  createRng,
  formatShape,
  type Rng,
  ShapeError,
  ValueError,
} from '@lab/tensor';
import * as tf from '@tensorflow/tfjs-core';
import type { Denoiser, NoiseFn } from './types.js';

/** Asserts a float tensor of rank ≥ 1 (a batch of samples). */
export function assertSamples(fn: string, arg: string, x: unknown): asserts x is tf.Tensor {
  assertTensor(fn, arg, x);
  if (x.rank < 1) {
    throw new ShapeError(
      argumentMessage(fn, arg, 'rank >= 1 [batch, ...dims]', `shape ${formatShape(x.shape)}`),
    );
  }
  if (x.dtype !== 'float32')
    throw new ValueError(argumentMessage(fn, arg, 'of dtype float32', `dtype ${x.dtype}`));
}

/** Asserts a function argument. */
export function assertFunction(fn: string, arg: string, f: unknown): void {
  if (typeof f !== 'function') throw new ValueError(argumentMessage(fn, arg, 'a function', describe(f)));
}

function describe(v: unknown): string {
  if (v === null || v === undefined) return String(v);
  if (Array.isArray(v)) return `an array of length ${v.length}`;
  if (typeof v === 'object') return Object.prototype.toString.call(v);
  return typeof v === 'string' ? JSON.stringify(v) : String(v);
}

/** Asserts a σ schedule: ≥ 2 finite non-negative numbers; returns it as a Float64Array. */
export function toSigmas(fn: string, arg: string, sigmas: unknown): Float64Array {
  const ok = sigmas instanceof Float64Array || sigmas instanceof Float32Array || Array.isArray(sigmas);
  if (!ok)
    throw new ValueError(
      argumentMessage(fn, arg, 'a Float64Array or number[] of noise levels', describe(sigmas)),
    );
  const arr = Float64Array.from(sigmas as ArrayLike<number>);
  if (arr.length < 2) {
    throw new ValueError(
      argumentMessage(fn, arg, 'at least 2 noise levels (n steps + final 0)', `length ${arr.length}`),
    );
  }
  for (let i = 0; i < arr.length; i++) {
    const s = arr[i]!;
    if (typeof s !== 'number' || !Number.isFinite(s) || s < 0) {
      throw new ValueError(argumentMessage(fn, `${arg}[${i}]`, 'a finite number >= 0', String(s)));
    }
  }
  return arr;
}

/** Calls D(x; σ) with σ repeated per row and checks that the output has x's shape. */
export function denoise(fn: string, denoiser: Denoiser, x: tf.Tensor, sigma: number): tf.Tensor {
  const s = tf.fill([x.shape[0]!], sigma);
  const out = denoiser(x, s);
  checkOutput(fn, 'denoiser', out, x.shape);
  return out;
}

export function checkOutput(fn: string, what: string, out: unknown, shape: readonly number[]): void {
  if (
    typeof out !== 'object' ||
    out === null ||
    !Array.isArray((out as tf.Tensor).shape) ||
    (out as tf.Tensor).shape.length !== shape.length ||
    (out as tf.Tensor).shape.some((d, i) => d !== shape[i])
  ) {
    const got = Array.isArray((out as tf.Tensor)?.shape)
      ? `shape ${formatShape((out as tf.Tensor).shape)}`
      : describe(out);
    throw new ShapeError(
      argumentMessage(fn, `${what} output`, `a tensor of shape ${formatShape(shape)}`, got),
    );
  }
}

/**
 * A noise source: the user's `noise(shape, index)` (checked for shape) or standard normals from `rng`
 * (default: a generator seeded with 0).
 */
export function noiseSource(fn: string, noise: NoiseFn | undefined, rng: Rng | undefined): NoiseFn {
  if (noise !== undefined) {
    assertFunction(fn, 'options.noise', noise);
    return (shape, index) => {
      const z = noise(shape, index);
      checkOutput(fn, `noise(shape, ${index})`, z, shape);
      return z.dtype === 'float32' ? z : tf.cast(z, 'float32');
    };
  }
  if (rng !== undefined && (typeof rng !== 'object' || typeof (rng as Rng).normal !== 'function')) {
    throw new ValueError(argumentMessage(fn, 'options.rng', 'an Rng from createRng(seed)', describe(rng)));
  }
  const gen = rng ?? createRng(0);
  return (shape) => gen.normal(shape);
}

/** Disposes `t` unless it is one of `inputs`. */
export function release(t: tf.Tensor | null | undefined, inputs: readonly tf.Tensor[]): void {
  if (t && !inputs.includes(t) && !t.isDisposed) t.dispose();
}

/** `[batch, 1, ..., 1]` reshape target so a `[batch]` vector broadcasts over `x`. */
export function rowShape(x: tf.Tensor): number[] {
  return [x.shape[0]!, ...new Array(x.rank - 1).fill(1)];
}

/** A `[batch]` tensor from a number or a tensor (validated). */
export function rowVector(fn: string, arg: string, v: tf.Tensor | number, batch: number): tf.Tensor {
  if (typeof v === 'number') return tf.fill([batch], v);
  assertTensor(fn, arg, v);
  if (v.rank !== 1 || v.shape[0] !== batch) {
    throw new ShapeError(
      argumentMessage(fn, arg, `of shape [${batch}] [batch]`, `shape ${formatShape(v.shape)}`),
    );
  }
  return v;
}

/** Runs `f` in a tfjs scope and returns its (host) result; every tensor created inside is released. */
export function hostTidy<T>(f: () => T): T {
  tf.engine().startScope();
  try {
    return f();
  } finally {
    tf.engine().endScope();
  }
}
