/**
 * @lab/diffusion: the design space of diffusion models (Karras et al. 2022, "Elucidating the Design Space of
 * Diffusion-Based Generative Models"; Song et al. 2021, "Score-Based Generative Modeling through SDEs") for tfjs.
 */
export {
  ablationSampler,
  type AblationSamplerOptions,
  ablationSigmaSteps,
  edmSampler,
  type EdmSamplerOptions,
  edmTimeSteps,
  vpBetas,
} from './edm.js';
export {
  type AncestralOptions,
  ancestralStep,
  type KSamplerOptions,
  linearMultistepCoeff,
  sampleDpm2,
  sampleDpm2Ancestral,
  sampleDpmpp2m,
  sampleDpmpp2mSde,
  sampleDpmpp2sAncestral,
  sampleDpmppSde,
  sampleEuler,
  sampleEulerAncestral,
  sampleHeun,
  sampleLms,
} from './kdiffusion.js';
export {
  type GaussianMixture,
  type GaussianMixtureSpec,
  gaussianMixture,
  gaussianMixtureDenoiser,
} from './mixture.js';
export {
  edmPrecond,
  flowPrecond,
  iddpmLevels,
  iddpmPrecond,
  type PrecondCoefficients,
  type Preconditioning,
  type RawModel,
  vePrecond,
  vpPrecond,
  vpSigma,
  vpSigmaInv,
} from './precond.js';
export { integrate } from './quadrature.js';
export { exponentialSigmas, karrasSigmas, polyexponentialSigmas, vpSigmas } from './schedules.js';
export type { Denoiser, NoiseFn, ScoreFn, StepCallback, StepInfo } from './types.js';
