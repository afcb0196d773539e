import { describe, expect, it } from 'vitest';
import { discretizeHost, hippoHost, nplrLegS, s4NplrKernel } from '../src/index.js';

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
});
