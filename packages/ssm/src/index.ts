/**
 * @lab/ssm: state space models for tfjs. HiPPO operators and their discretizations (Gu et al. 2020), S4D
 * convolution kernels (Gu et al. 2022), and Mamba's selective scan with the Mamba block (Gu & Dao 2023),
 * checked against the state-spaces reference code.
 */
export {
  DISCRETIZATION_METHODS,
  type DiscretizationMethod,
  discretize,
  discretizeHost,
  HIPPO_MEASURES,
  type HippoMeasure,
  hippo,
  hippoHost,
  type HippoOnlineMeasure,
  type HippoOnlineOptions,
  hippoProject,
  hippoReconstruct,
} from './hippo.js';
export { expm64 } from './linalg.js';
export { type S4DKernelOptions, type S4DKernelParams, s4dKernel } from './s4d.js';
export { type SelectiveScanOptions, selectiveScan, selectiveScanChunked } from './scan.js';
export { Mamba, type MambaConfig, type MambaInitOptions, type MambaState } from './mamba.js';
export { MixerModel, type MixerModelConfig, rmsNorm } from './stack.js';
export { causalConv, causalConvHost, fftInPlace } from './fft.js';
export { type S4DInit, s4dInitA } from './s4d.js';
export { S4D, type S4DConfig, type S4DState } from './s4d-layer.js';
export { type ComplexArray, type NplrForm, nplrLegS, s4NplrKernel } from './nplr.js';
export {
  type DplrChannel,
  dplrDiscreteHost,
  dplrRealForm,
  type S4NplrHostParams,
  retargetCTilde,
  type S4NplrLegSInitOptions,
  s4NplrLegSInit,
} from './nplr.js';
export {
  irfft,
  type S4KernelOptions,
  type S4KernelParams,
  s4Kernel,
  s4NplrDense,
  s4NplrDenseHost,
  s4NplrDiscrete,
  s4NplrParamsFromHost,
  s4NplrParamsToHost,
  solveRows,
} from './s4-kernel.js';
export { S4, type S4Config, type S4ForwardOptions, type S4State } from './s4-layer.js';
