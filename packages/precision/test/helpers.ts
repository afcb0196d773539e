import data from './fixtures/precision.json';

export interface PrecisionFixture {
  source: string;
  versions: Record<string, string>;
  f16_bits_to_f32_bits: number[];
  bf16_bits_to_f32_bits: number[];
  f32_bits: number[];
  to_f16_bits: number[];
  to_bf16_bits: number[];
  to_e4m3fn_bits: number[];
  to_e5m2_bits: number[];
  grad_scaler: {
    init_scale: number;
    growth_factor: number;
    backoff_factor: number;
    growth_interval: number;
    nonfinite_at_step: number[];
    scale_after_update: number[];
    optimizer_stepped: boolean[];
    defaults: { init_scale: number; growth_factor: number; backoff_factor: number; growth_interval: number };
  };
}

/** The golden outputs of numpy / ml_dtypes / torch.amp.GradScaler (test/fixtures/precision.json). */
export function fixture(): PrecisionFixture {
  return data as unknown as PrecisionFixture;
}

/** Whether a float32 pattern is NaN. */
export const isNaN32 = (bits: number): boolean => (bits & 0x7fffffff) > 0x7f800000;
/** Whether a pattern of each narrow format is NaN. */
export const isNaNPattern = {
  f16: (b: number) => (b & 0x7fff) > 0x7c00,
  bf16: (b: number) => (b & 0x7fff) > 0x7f80,
  e4m3: (b: number) => (b & 0x7f) === 0x7f,
  e5m2: (b: number) => (b & 0x7f) > 0x7c,
};
