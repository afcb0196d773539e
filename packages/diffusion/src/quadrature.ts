/**
 * Adaptive Gauss–Kronrod quadrature (7-point Gauss, 15-point Kronrod; Piessens et al. 1983, QUADPACK QAG), used for
 * the linear multistep coefficients of k-diffusion's `sample_lms` (which calls scipy.integrate.quad).
 */

// Kronrod 15-point nodes (non-negative half) and weights; Gauss 7-point weights at the odd Kronrod nodes.
const XGK = [
  0.9914553711208126, 0.9491079123427585, 0.8648644233597691, 0.7415311855993945, 0.5860872354676911,
  0.4058451513773972, 0.20778495500789848, 0,
];
const WGK = [
  0.022935322010529224, 0.06309209262997856, 0.10479001032225019, 0.14065325971552592, 0.1690047266392679,
  0.19035057806478542, 0.20443294007529889, 0.20948214108472782,
];
const WG = [0.1294849661688697, 0.27970539148927664, 0.3818300505051189, 0.4179591836734694];

function gk15(f: (x: number) => number, a: number, b: number): { value: number; error: number } {
  const c = 0.5 * (a + b);
  const h = 0.5 * (b - a);
  const fc = f(c);
  let resK = fc * WGK[7]!;
  let resG = fc * WG[3]!;
  for (let j = 0; j < 7; j++) {
    const dx = h * XGK[j]!;
    const s = f(c - dx) + f(c + dx);
    resK += WGK[j]! * s;
    if (j % 2 === 1) resG += WG[(j - 1) / 2]! * s;
  }
  return { value: resK * h, error: Math.abs((resK - resG) * h) };
}

/**
 * ∫ₐᵇ f(x) dx by adaptive bisection of 15-point Gauss–Kronrod panels until the summed error estimate is below
 * max(epsabs, epsrel·|I|). Exact for polynomials of degree ≤ 22 on the first panel.
 */
export function integrate(
  f: (x: number) => number,
  a: number,
  b: number,
  options: { epsabs?: number; epsrel?: number; limit?: number } = {},
): { value: number; error: number; evaluations: number } {
  const { epsabs = 1.49e-8, epsrel = 1.49e-8, limit = 50 } = options;
  if (a === b) return { value: 0, error: 0, evaluations: 0 };
  let panels = [{ a, b, ...gk15(f, a, b) }];
  let evaluations = 15;
  for (let iter = 0; iter < limit; iter++) {
    const value = panels.reduce((s, p) => s + p.value, 0);
    const error = panels.reduce((s, p) => s + p.error, 0);
    if (error <= Math.max(epsabs, epsrel * Math.abs(value))) return { value, error, evaluations };
    // Bisect the panel with the largest error.
    let worst = 0;
    for (let i = 1; i < panels.length; i++) if (panels[i]!.error > panels[worst]!.error) worst = i;
    const p = panels[worst]!;
    const m = 0.5 * (p.a + p.b);
    const left = { a: p.a, b: m, ...gk15(f, p.a, m) };
    const right = { a: m, b: p.b, ...gk15(f, m, p.b) };
    evaluations += 30;
    panels = [...panels.slice(0, worst), left, right, ...panels.slice(worst + 1)];
  }
  const value = panels.reduce((s, p) => s + p.value, 0);
  const error = panels.reduce((s, p) => s + p.error, 0);
  return { value, error, evaluations };
}
