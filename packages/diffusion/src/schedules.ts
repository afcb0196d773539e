/**
 * Noise-level schedules σ₀ > σ₁ > … > σₙ₋₁ > 0, followed by a final 0 (crowsonkb/k-diffusion `get_sigmas_*`;
 * Karras et al. 2022, eq. 5).
 */
import { assertInteger, assertNumber, ValueError } from '@lab/tensor';

function linspace(a: number, b: number, n: number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = n === 1 ? a : a + ((b - a) * i) / (n - 1);
  if (n > 1) out[n - 1] = b;
  return out;
}

function checkRange(fn: string, sigmaMin: number, sigmaMax: number): void {
  assertNumber(fn, 'sigmaMin', sigmaMin, { exclusiveMin: 0 });
  assertNumber(fn, 'sigmaMax', sigmaMax, { exclusiveMin: 0 });
  if (!(sigmaMax > sigmaMin)) {
    throw new ValueError(
      `${fn}: sigmaMax must be greater than sigmaMin, got sigmaMin=${sigmaMin}, sigmaMax=${sigmaMax}`,
    );
  }
}

/**
 * Karras et al. 2022, eq. 5 (k-diffusion `get_sigmas_karras`): σᵢ = (σmax^(1/ρ) + i/(n−1)·(σmin^(1/ρ) − σmax^(1/ρ)))^ρ.
 * Returns `[n + 1]`: n levels then 0.
 */
export function karrasSigmas(n: number, sigmaMin: number, sigmaMax: number, rho = 7): Float64Array {
  const fn = 'diffusion.karrasSigmas';
  assertInteger(fn, 'n', n, 1);
  checkRange(fn, sigmaMin, sigmaMax);
  assertNumber(fn, 'rho', rho, { exclusiveMin: 0 });
  const ramp = linspace(0, 1, n);
  const lo = sigmaMin ** (1 / rho);
  const hi = sigmaMax ** (1 / rho);
  const out = new Float64Array(n + 1);
  for (let i = 0; i < n; i++) out[i] = (hi + ramp[i]! * (lo - hi)) ** rho;
  return out;
}

/** k-diffusion `get_sigmas_exponential`: n levels evenly spaced in log σ from σmax to σmin, then 0. `[n + 1]`. */
export function exponentialSigmas(n: number, sigmaMin: number, sigmaMax: number): Float64Array {
  const fn = 'diffusion.exponentialSigmas';
  assertInteger(fn, 'n', n, 1);
  checkRange(fn, sigmaMin, sigmaMax);
  const logs = linspace(Math.log(sigmaMax), Math.log(sigmaMin), n);
  const out = new Float64Array(n + 1);
  for (let i = 0; i < n; i++) out[i] = Math.exp(logs[i]!);
  return out;
}

/**
 * k-diffusion `get_sigmas_polyexponential`: log σ polynomial (degree ρ) in the ramp:
 * σᵢ = exp(rampᵢ^ρ·(log σmax − log σmin) + log σmin), ramp = linspace(1, 0, n). `[n + 1]`.
 */
export function polyexponentialSigmas(n: number, sigmaMin: number, sigmaMax: number, rho = 1): Float64Array {
  const fn = 'diffusion.polyexponentialSigmas';
  assertInteger(fn, 'n', n, 1);
  checkRange(fn, sigmaMin, sigmaMax);
  assertNumber(fn, 'rho', rho, { exclusiveMin: 0 });
  const ramp = linspace(1, 0, n);
  const out = new Float64Array(n + 1);
  const span = Math.log(sigmaMax) - Math.log(sigmaMin);
  for (let i = 0; i < n; i++) out[i] = Math.exp(ramp[i]! ** rho * span + Math.log(sigmaMin));
  return out;
}

/**
 * Song et al. 2021 VP schedule (k-diffusion `get_sigmas_vp`): t = linspace(1, εs, n),
 * σ(t) = sqrt(exp(β_d·t²/2 + β_min·t) − 1). `[n + 1]`.
 */
export function vpSigmas(n: number, betaD = 19.9, betaMin = 0.1, epsS = 1e-3): Float64Array {
  const fn = 'diffusion.vpSigmas';
  assertInteger(fn, 'n', n, 1);
  assertNumber(fn, 'betaD', betaD, { exclusiveMin: 0 });
  assertNumber(fn, 'betaMin', betaMin, { min: 0 });
  assertNumber(fn, 'epsS', epsS, { exclusiveMin: 0, max: 1 });
  const t = linspace(1, epsS, n);
  const out = new Float64Array(n + 1);
  for (let i = 0; i < n; i++) out[i] = Math.sqrt(Math.expm1((betaD * t[i]! ** 2) / 2 + betaMin * t[i]!));
  return out;
}
