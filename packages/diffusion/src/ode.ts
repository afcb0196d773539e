/**
 * Adaptive explicit Runge–Kutta 5(4) of Dormand & Prince 1980 with the step-size control of
 * scipy.integrate.solve_ivp(method='RK45') (Hairer, Nørsett & Wanner, "Solving ODEs I", II.4), in float64.
 */

const C = [0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1];
const A = [
  [],
  [1 / 5],
  [3 / 40, 9 / 40],
  [44 / 45, -56 / 15, 32 / 9],
  [19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729],
  [9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656],
];
const B = [35 / 384, 0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84];
const E = [-71 / 57600, 0, 71 / 16695, -71 / 1920, 17253 / 339200, -22 / 525, 1 / 40];
const SAFETY = 0.9;
const MIN_FACTOR = 0.2;
const MAX_FACTOR = 10;
const ERROR_EXPONENT = -1 / 5;

export interface Rk45Result {
  y: Float64Array;
  /** Right-hand-side evaluations. */
  nfe: number;
  /** Accepted steps. */
  steps: number;
  /** Rejected steps. */
  rejected: number;
}

function rmsNorm(v: Float64Array): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i]! * v[i]!;
  return Math.sqrt(s / v.length);
}

/**
 * Integrates dy/dt = f(t, y) from t0 to t1 (either direction) with absolute and relative tolerances, as
 * scipy's RK45: FSAL stages, error ‖(y₅ − y₄)/(atol + rtol·max(|y|, |y_new|))‖_RMS ≤ 1, step factor
 * 0.9·err^(−1/5) clipped to [0.2, 10], initial step by Hairer's rule.
 */
export function solveRk45(
  f: (t: number, y: Float64Array) => Float64Array,
  t0: number,
  t1: number,
  y0: Float64Array,
  options: { rtol?: number; atol?: number; maxSteps?: number; firstStep?: number } = {},
): Rk45Result {
  const { rtol = 1e-3, atol = 1e-6, maxSteps = 100000 } = options;
  const n = y0.length;
  const dir = Math.sign(t1 - t0) || 1;
  let t = t0;
  let y = Float64Array.from(y0);
  let fy = f(t, y);
  let nfe = 1;
  const scaleOf = (a: Float64Array, b?: Float64Array) => {
    const s = new Float64Array(n);
    for (let i = 0; i < n; i++) s[i] = atol + rtol * Math.max(Math.abs(a[i]!), b ? Math.abs(b[i]!) : 0);
    return s;
  };
  // Initial step (scipy select_initial_step).
  let h: number;
  if (options.firstStep !== undefined) h = options.firstStep;
  else {
    const sc = scaleOf(y);
    const d0 = rmsNorm(y.map((v, i) => v / sc[i]!));
    const d1 = rmsNorm(fy.map((v, i) => v / sc[i]!));
    let h0 = d0 < 1e-5 || d1 < 1e-5 ? 1e-6 : (0.01 * d0) / d1;
    h0 = Math.min(h0, Math.abs(t1 - t0));
    const y1 = y.map((v, i) => v + dir * h0 * fy[i]!);
    const f1 = f(t + dir * h0, y1);
    nfe++;
    const d2 = rmsNorm(f1.map((v, i) => (v - fy[i]!) / sc[i]!)) / h0;
    const h1 = d1 <= 1e-15 && d2 <= 1e-15 ? Math.max(1e-6, h0 * 1e-3) : (0.01 / Math.max(d1, d2)) ** (1 / 5);
    h = Math.min(100 * h0, h1);
  }
  const k: Float64Array[] = new Array(7);
  let steps = 0;
  let rejected = 0;
  while (dir * (t1 - t) > 0) {
    if (steps + rejected > maxSteps) throw new Error(`diffusion.solveRk45: more than ${maxSteps} steps`);
    const minStep = 10 * Math.abs(Number.EPSILON * t);
    h = Math.max(h, minStep);
    let accepted = false;
    let stepRejected = false;
    while (!accepted) {
      if (h < minStep) throw new Error('diffusion.solveRk45: step size underflow');
      let hs = h * dir;
      let tNew = t + hs;
      if (dir * (tNew - t1) > 0) tNew = t1;
      hs = tNew - t;
      const ha = Math.abs(hs);
      k[0] = fy;
      for (let s = 1; s < 6; s++) {
        const ys = new Float64Array(n);
        for (let i = 0; i < n; i++) {
          let acc = 0;
          for (let j = 0; j < s; j++) acc += A[s]![j]! * k[j]![i]!;
          ys[i] = y[i]! + hs * acc;
        }
        k[s] = f(t + C[s]! * hs, ys);
      }
      const yNew = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        let acc = 0;
        for (let j = 0; j < 6; j++) acc += B[j]! * k[j]![i]!;
        yNew[i] = y[i]! + hs * acc;
      }
      const fNew = f(tNew, yNew);
      k[6] = fNew;
      nfe += 6;
      const sc = scaleOf(y, yNew);
      const err = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        let acc = 0;
        for (let j = 0; j < 7; j++) acc += E[j]! * k[j]![i]!;
        err[i] = (hs * acc) / sc[i]!;
      }
      const errNorm = rmsNorm(err);
      if (errNorm < 1) {
        let factor = errNorm === 0 ? MAX_FACTOR : Math.min(MAX_FACTOR, SAFETY * errNorm ** ERROR_EXPONENT);
        if (stepRejected) factor = Math.min(1, factor);
        accepted = true;
        h = ha * factor;
        t = tNew;
        y = yNew;
        fy = fNew;
        steps++;
      } else {
        h = ha * Math.max(MIN_FACTOR, SAFETY * errNorm ** ERROR_EXPONENT);
        rejected++;
        stepRejected = true;
      }
    }
  }
  return { y, nfe, steps, rejected };
}
