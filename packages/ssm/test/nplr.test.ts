import { describe, expect, it } from 'vitest';
import { discretizeHost, dplrDiscreteHost, dplrRealForm, hippoHost, nplrLegS, s4NplrKernel, s4NplrLegSInit } from '../src/index.js';
import { dplrChannel } from '../src/nplr.js';

describe('NPLR LegS and the S4 kernel', () => {
  it('A = V Λ V* − P Pᵀ with V unitary and Re Λ = −½', () => {
    const N = 8;
    const { Lambda, V, P } = nplrLegS(N);
    const { A } = hippoHost('legs', N);
    let err = 0;
    let norm = 0;
    let unitary = 0;
    for (let i = 0; i < N; i++) {
      for (let j = 0; j < N; j++) {
        // (V Λ V*)_ij = Σ_k V_ik λ_k conj(V_jk)
        let re = 0;
        let im = 0;
        let gram = 0;
        for (let k = 0; k < N; k++) {
          const ar = V.re[i * N + k]! * Lambda.re[k]! - V.im[i * N + k]! * Lambda.im[k]!;
          const ai = V.re[i * N + k]! * Lambda.im[k]! + V.im[i * N + k]! * Lambda.re[k]!;
          re += ar * V.re[j * N + k]! + ai * V.im[j * N + k]!;
          im += ai * V.re[j * N + k]! - ar * V.im[j * N + k]!;
          gram += V.re[k * N + i]! * V.re[k * N + j]! + V.im[k * N + i]! * V.im[k * N + j]!;
        }
        err = Math.max(err, Math.abs(re - P[i]! * P[j]! - A[i * N + j]!), Math.abs(im));
        norm = Math.max(norm, Math.abs(A[i * N + j]!));
        unitary = Math.max(unitary, Math.abs(gram - (i === j ? 1 : 0)));
      }
    }
    expect(err / norm).toBeLessThan(1e-10);
    expect(unitary).toBeLessThan(1e-10);
    for (let k = 0; k < N; k++) expect(Lambda.re[k]).toBeCloseTo(-0.5, 12);
  });

  it.each([16, 50])('the Cauchy/Woodbury/iFFT kernel equals C Ā^l B̄ unrolled (L = %i)', (L) => {
    const N = 8;
    const dt = 0.05;
    const nplr = nplrLegS(N);
    const C = Float64Array.from({ length: N }, (_, i) => Math.cos(1.3 * i + 0.2));
    const K = s4NplrKernel(C, dt, L, nplr);
    const { A, B } = hippoHost('legs', N);
    const d = discretizeHost(A, B, N, dt, 'bilinear');
    let x = d.B;
    let worst = 0;
    let scale = 0;
    for (let l = 0; l < L; l++) {
      let ref = 0;
      for (let i = 0; i < N; i++) ref += C[i]! * x[i]!;
      worst = Math.max(worst, Math.abs(K[l]! - ref));
      scale = Math.max(scale, Math.abs(ref));
      const next = new Float64Array(N);
      for (let i = 0; i < N; i++) for (let j = 0; j < N; j++) next[i]! += d.A[i * N + j]! * x[j]!;
      x = next;
    }
    expect(worst / scale).toBeLessThan(1e-9);
  });

  it('the half-mode DPLR real form is similar to LegS A (equal traces of A, A², A³)', () => {
    const N = 8;
    const init = s4NplrLegSInit({ H: 1, N, L: 16, dt: [0.1], C: new Float64Array(N).fill(1) });
    const { A: Ar } = dplrRealForm(dplrChannel(init, 0));
    const { A } = hippoHost('legs', N);
    const traces = (m: Float64Array) => {
      const out: number[] = [];
      let p = m;
      for (let e = 1; e <= 3; e++) {
        let t = 0;
        for (let i = 0; i < N; i++) t += p[i * N + i]!;
        out.push(t);
        const next = new Float64Array(N * N);
        for (let i = 0; i < N; i++) for (let k = 0; k < N; k++) for (let j = 0; j < N; j++) next[i * N + j]! += p[i * N + k]! * m[k * N + j]!;
        p = next;
      }
      return out;
    };
    const a = traces(Ar);
    const b = traces(A);
    expect(b[0]).toBeCloseTo(-36, 10); // −Σ (n + 1)
    // The parameters are stored in float32.
    for (let e = 0; e < 3; e++) expect(Math.abs(a[e]! - b[e]!) / Math.abs(b[e]!)).toBeLessThan(1e-6);
  });

  it('s4NplrLegSInit: C̃ = C (I − Ā^L) round-trips, and the real-form powers equal LegS C Ā^l B̄ (float64)', () => {
    const N = 8;
    const L = 30;
    const dt = 0.05;
    const C = Float64Array.from({ length: N }, (_, i) => Math.sin(0.7 * i + 0.3));
    const init = s4NplrLegSInit({ H: 1, N, L, dt: [dt], C });
    const { dA, dB, C: c } = dplrDiscreteHost(dplrChannel(init, 0), L);
    const legs = hippoHost('legs', N);
    const d = discretizeHost(legs.A, legs.B, N, dt, 'bilinear');
    let x = dB;
    let xo = d.B;
    let worst = 0;
    let scale = 0;
    for (let l = 0; l < L; l++) {
      let k = 0;
      let ref = 0;
      for (let i = 0; i < N; i++) {
        k += c[i]! * x[i]!;
        ref += C[i]! * xo[i]!;
      }
      worst = Math.max(worst, Math.abs(k - ref));
      scale = Math.max(scale, Math.abs(ref));
      const nx = new Float64Array(N);
      const no = new Float64Array(N);
      for (let i = 0; i < N; i++) {
        for (let j = 0; j < N; j++) {
          nx[i]! += dA[i * N + j]! * x[j]!;
          no[i]! += d.A[i * N + j]! * xo[j]!;
        }
      }
      x = nx;
      xo = no;
    }
    // C̃ is stored in float32, so the recovered C carries float32 rounding.
    expect(worst / scale).toBeLessThan(1e-5);
  });
});
