/**
 * @lab/conv: dilated (atrous) convolution for tfjs that trains at any dilation, stride and padding
 * (Yu & Koltun 2016; Chen et al. 2017), causal dilated 1-D convolution and WaveNet stacks (van den Oord et
 * al. 2016), receptive-field arithmetic, hybrid dilated convolution checks (Wang et al. 2018) and ASPP
 * (DeepLab v3). Channels-last layouts, as tfjs.
 */
export { causalConv1d, type DilatedConv1dOptions, dilatedConv1d } from './conv1d.js';
export { type DilatedConv2dOptions, dilatedConv2d, dilatedDepthwiseConv2d } from './conv2d.js';
export { dilateFilter } from './dilate.js';
export type { Padding1d, Padding2d } from './geometry.js';
export { ASPP, type AsppConfig, asppRates } from './aspp.js';
export {
  dilationCoverage,
  type HdcReport,
  hdcCheck,
  proposeSawtoothRates,
  type SawtoothOptions,
  type SawtoothProposal,
} from './hdc.js';
export {
  type EffectiveReceptiveFieldOptions,
  effectiveReceptiveField,
  type ReceptiveFieldInfo,
  type ReceptiveLayer,
  receptiveField,
  receptiveFieldPerLayer,
} from './receptive.js';
export { WaveNet, type WaveNetConfig, type WaveNetState } from './wavenet.js';
