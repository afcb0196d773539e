/**
 * Shared types of @lab/diffusion: the denoiser D(x; σ) of Karras et al. 2022 (EDM), noise sources and callbacks.
 */
import type { Tensor } from '@tensorflow/tfjs-core';

/**
 * A denoiser D(x; σ) (Karras et al. 2022, eq. 2): the estimate of the clean sample x₀ given x = x₀ + σ·n.
 *
 * - `x`: `[batch, ...dims]`, the noisy samples (unscaled: s(t) = 1).
 * - `sigma`: `[batch]`, one noise level per row.
 * - returns `[batch, ...dims]`.
 *
 * The optional fields mirror the `net.sigma_min`, `net.sigma_max` and `net.round_sigma` of NVlabs/edm: the
 * EDM samplers clip their noise range to them and round their time steps with `roundSigma`.
 */
export type Denoiser = ((x: Tensor, sigma: Tensor) => Tensor) & {
  sigmaMin?: number;
  sigmaMax?: number;
  roundSigma?: (sigma: number) => number;
};

/**
 * A source of standard normal draws: `noise(shape, index)` returns a tensor of `shape`. `index` is the step
 * (EDM samplers) or the call count (k-diffusion noise samplers). Tensors created inside the function are
 * released by the sampler; a tensor created outside (a cached one) is left alone.
 */
export type NoiseFn = (shape: number[], index: number) => Tensor;

/** What a sampler reports after each step (tensors valid only during the callback). */
export interface StepInfo {
  /** Step index. */
  i: number;
  /** The current sample before the step, `[batch, ...dims]`. */
  x: Tensor;
  /** σ at the start of the step. */
  sigma: number;
  /** σ after churn (equals `sigma` for deterministic steps). */
  sigmaHat: number;
  /** D(x; σ̂) at the start of the step. */
  denoised: Tensor;
}

export type StepCallback = (info: StepInfo) => void;

/** A score function ∇ₓ log p_t(x) (Song et al. 2021): x `[batch, ...dims]`, t `[batch]`. */
export type ScoreFn = (x: Tensor, t: Tensor) => Tensor;
