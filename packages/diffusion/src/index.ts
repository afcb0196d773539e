/**
 * @lab/diffusion: the design space of diffusion models (Karras et al. 2022, "Elucidating the Design Space of
 * Diffusion-Based Generative Models"; Song et al. 2021, "Score-Based Generative Modeling through SDEs") for tfjs.
 */

export { brownianTreeNoise, type SigmaNoiseSampler } from './brownian.js';
export {
  alphasCumprod,
  betaSchedule,
  type DiscreteSamplerOptions,
  ddimSampler,
  ddimSigmas,
  ddimTimesteps,
  ddpmSampler,
  discreteSigma,
} from './discrete.js';
export {
  type AblationSamplerOptions,
  ablationSampler,
  ablationSigmaSteps,
  type EdmSamplerOptions,
  edmSampler,
  edmTimeSteps,
  runScaledSampler,
  type TimeSchedule,
  vpBetas,
} from './edm.js';
export {
  edmFormulation,
  type Formulation,
  flowMatchingFormulation,
  formulation,
  formulationSampler,
  iddpmFormulation,
  veFormulation,
  vpFormulation,
} from './formulations.js';
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
export { annealedLangevin, denoiserScore, geometricSigmas, type NoiseConditionalScore } from './langevin.js';
export {
  type GaussianMixture,
  type GaussianMixtureSpec,
  gaussianMixture,
  gaussianMixtureDenoiser,
} from './mixture.js';
export { type Rk45Result, solveRk45 } from './ode.js';
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
export {
  DiffusionScheduler,
  type PredictionType,
  type SchedulerSolver,
  type SchedulerTimestep,
} from './scheduler.js';
export { exponentialSigmas, karrasSigmas, polyexponentialSigmas, vpSigmas } from './schedules.js';
export {
  type Corrector,
  type LikelihoodOptions,
  type LikelihoodResult,
  likelihood,
  logLikelihood,
  odeSampler,
  type PcSamplerOptions,
  type Predictor,
  pcSampler,
  type Sde,
  type SdeLike,
  scoreFromDenoiser,
  subVpSde,
  veSde,
  vpSde,
} from './sde.js';
export {
  createMlpDenoiser,
  diffusionLoss,
  flowMatchingLoss,
  type MlpDenoiserModel,
  mlpDenoiser,
  mmd,
  toyData,
  trainDenoiser,
} from './training.js';
export type { Denoiser, NoiseFn, ScoreFn, StepCallback, StepInfo } from './types.js';
