/**
 * A Brownian-tree noise sampler (k-diffusion `BrownianTreeNoiseSampler`, after torchsde's BrownianTree; Lévy's
 * construction of Brownian motion by bridges): W(t) on [t₀, t₁] is a deterministic function of the seed, so
 * noise(σ, σ') = (W(σ') − W(σ))/√|σ' − σ| stays consistent when the step count changes.
 */

import {
  argumentMessage,
  assertInteger,
  assertNumber,
  createRng,
  formatShape,
  ShapeError,
  ValueError,
} from '@lab/tensor';
import * as tf from '@tensorflow/tfjs-core';

/** A noise sampler in k-diffusion's form: standard normals for the step from σ to σ'. */
export type SigmaNoiseSampler = (sigma: number, sigmaNext: number) => tf.Tensor;

const MAX_DEPTH = 48;

/**
 * Brownian tree over [sigmaMin, sigmaMax] for samples of `shape`. W(t₀) = 0, W(t₁) ~ N(0, t₁ − t₀); W(t) by
 * bisection: each midpoint is the Brownian bridge draw (W(a) + W(b))/2 + √((b − a)/4)·z with z from a Philox
 * stream keyed by (seed, node), down to a width of (t₁ − t₀)·2⁻⁴⁸, then the exact bridge to t.
 * `noise(σ, σ')` = (W(σ') − W(σ))/√|σ' − σ|, as k-diffusion's sampler.
 */
export function brownianTreeNoise(
  shape: number[],
  options: { sigmaMin: number; sigmaMax: number; seed?: number },
): SigmaNoiseSampler & { at(t: number): Float64Array } {
  const fn = 'diffusion.brownianTreeNoise';
  if (!Array.isArray(shape) || shape.length === 0 || shape.some((d) => !Number.isInteger(d) || d < 1)) {
    throw new ShapeError(
      argumentMessage(
        fn,
        'shape',
        'a non-empty array of positive integers',
        Array.isArray(shape) ? formatShape(shape) : String(shape),
      ),
    );
  }
  const { sigmaMin, sigmaMax, seed = 0 } = options ?? ({} as { sigmaMin: number; sigmaMax: number });
  assertNumber(fn, 'options.sigmaMin', sigmaMin, { min: 0 });
  assertNumber(fn, 'options.sigmaMax', sigmaMax, { exclusiveMin: sigmaMin });
  assertInteger(fn, 'options.seed', seed, 0, 2 ** 32 - 1);
  const size = shape.reduce((a, b) => a * b, 1);
  const t0 = sigmaMin;
  const t1 = sigmaMax;
  // z of a node: Philox stream keyed by the seed (low word) and the node (depth, index) in the high word / counter.
  const nodeNormals = (depth: number, index: number) => {
    const key = seed + 2 ** 32 * ((depth * 2654435761 + index * 40503) % 2 ** 20);
    return createRng(key).normalData(size);
  };
  const w1 = (() => {
    const z = createRng(seed + 2 ** 32 * 1048575).normalData(size);
    return Float64Array.from(z, (v) => v * Math.sqrt(t1 - t0));
  })();
  const cache = new Map<number, Float64Array>();
  const at = (t: number): Float64Array => {
    const tc = Math.min(Math.max(t, t0), t1);
    const hit = cache.get(tc);
    if (hit) return hit;
    let a = t0;
    let b = t1;
    let wa = new Float64Array(size);
    let wb = w1;
    let index = 0;
    for (let depth = 1; depth <= MAX_DEPTH && b - a > 0; depth++) {
      const m = 0.5 * (a + b);
      const z = nodeNormals(depth, index);
      const s = Math.sqrt((b - a) / 4);
      const wm = new Float64Array(size);
      for (let i = 0; i < size; i++) wm[i] = 0.5 * (wa[i]! + wb[i]!) + s * z[i]!;
      if (tc === m) {
        cache.set(tc, wm);
        return wm;
      }
      if (tc < m) {
        b = m;
        wb = wm;
        index = 2 * index;
      } else {
        a = m;
        wa = wm;
        index = 2 * index + 1;
      }
    }
    // Exact bridge inside the last (tiny) interval, deterministic in t.
    const frac = b > a ? (tc - a) / (b - a) : 0;
    const std = b > a ? Math.sqrt(((tc - a) * (b - tc)) / (b - a)) : 0;
    const z = nodeNormals(MAX_DEPTH + 1, Math.floor(frac * 2 ** 20));
    const w = new Float64Array(size);
    for (let i = 0; i < size; i++) w[i] = wa[i]! + frac * (wb[i]! - wa[i]!) + std * z[i]!;
    if (cache.size > 4096) cache.clear();
    cache.set(tc, w);
    return w;
  };
  const sampler = ((sigma: number, sigmaNext: number) => {
    if (!Number.isFinite(sigma) || !Number.isFinite(sigmaNext)) {
      throw new ValueError(argumentMessage(fn, 'sigma', 'finite noise levels', `${sigma}, ${sigmaNext}`));
    }
    const lo = Math.min(sigma, sigmaNext);
    const hi = Math.max(sigma, sigmaNext);
    const wl = at(lo);
    const wh = at(hi);
    const scale = hi > lo ? 1 / Math.sqrt(hi - lo) : 0;
    // k-diffusion: (W(σ') − W(σ))/√|σ' − σ| (the tree returns W(hi) − W(lo) times the sign of σ' − σ).
    const sign = sigmaNext >= sigma ? 1 : -1;
    const out = new Float32Array(size);
    for (let i = 0; i < size; i++) out[i] = sign * (wh[i]! - wl[i]!) * scale;
    return tf.tensor(out, shape);
  }) as SigmaNoiseSampler & { at(t: number): Float64Array };
  sampler.at = at;
  return sampler;
}
