/**
 * The selective scan (Gu & Dao 2023, Algorithm 2; mamba `selective_scan_ref`) forward and backward on host
 * arrays in plain TypeScript: the fallback of the WebAssembly kernels, with the same results up to rounding.
 * Layouts are the op's own: u, delta, z, out [Bt, D, L]; A [D, N]; B, C [Bt, N, L] (variable) or [D, N];
 * D, deltaBias [D]; states [Bt, D, N].
 */

/** Which optional parts a scan call has (mirrors the op attributes). */
export interface ScanFlags {
  batch: number;
  dim: number;
  length: number;
  dState: number;
  deltaSoftplus: boolean;
  variableB: boolean;
  variableC: boolean;
}

export interface ScanHostInputs {
  u: Float32Array;
  delta: Float32Array;
  A: Float32Array;
  B: Float32Array;
  C: Float32Array;
  D?: Float32Array;
  z?: Float32Array;
  deltaBias?: Float32Array;
  initialState?: Float32Array;
}

export interface ScanHostGrads {
  u: Float32Array;
  delta: Float32Array;
  A: Float32Array;
  B: Float32Array;
  C: Float32Array;
  D?: Float32Array;
  z?: Float32Array;
  deltaBias?: Float32Array;
  initialState?: Float32Array;
  /** True when u, delta and z are views of a kernel module's memory (see HostTensor.borrowed in @lab/tensor). */
  borrowed?: boolean;
}

/** The forward's results: out [Bt, D, L] and lastState [Bt, D, N]. */
export interface ScanHostOutputs {
  out: Float32Array;
  lastState: Float32Array;
  /** True when out is a view of a kernel module's memory (see HostTensor.borrowed in @lab/tensor). */
  borrowed?: boolean;
}

/** softplus as torch.nn.functional.softplus (threshold 20: the identity above it). */
export function softplus(x: number): number {
  return x > 20 ? x : Math.log1p(Math.exp(x));
}

/** d softplus / dx (1 above the threshold, as torch). */
function softplusGrad(x: number): number {
  return x > 20 ? 1 : 1 / (1 + Math.exp(-x));
}

/** out [Bt, D, L] and lastState [Bt, D, N]. */
export function scanForwardFallback(
  x: ScanHostInputs,
  f: ScanFlags,
): { out: Float32Array; lastState: Float32Array } {
  const { batch, dim, length: L, dState: N } = f;
  const out = new Float32Array(batch * dim * L);
  const lastState = new Float32Array(batch * dim * N);
  const h = new Float64Array(N);
  for (let b = 0; b < batch; b++) {
    for (let d = 0; d < dim; d++) {
      const row = (b * dim + d) * L;
      const stateOffset = (b * dim + d) * N;
      for (let n = 0; n < N; n++) h[n] = x.initialState ? x.initialState[stateOffset + n]! : 0;
      const bias = x.deltaBias ? x.deltaBias[d]! : 0;
      const skip = x.D ? x.D[d]! : 0;
      for (let t = 0; t < L; t++) {
        const u = x.u[row + t]!;
        let dt = x.delta[row + t]! + bias;
        if (f.deltaSoftplus) dt = softplus(dt);
        const du = dt * u;
        let y = 0;
        for (let n = 0; n < N; n++) {
          const bn = f.variableB ? x.B[(b * N + n) * L + t]! : x.B[d * N + n]!;
          const cn = f.variableC ? x.C[(b * N + n) * L + t]! : x.C[d * N + n]!;
          h[n] = Math.exp(dt * x.A[d * N + n]!) * h[n]! + du * bn;
          y += cn * h[n]!;
        }
        y += skip * u;
        if (x.z) {
          const zz = x.z[row + t]!;
          y *= zz / (1 + Math.exp(-zz));
        }
        out[row + t] = y;
      }
      for (let n = 0; n < N; n++) lastState[stateOffset + n] = h[n]!;
    }
  }
  return { out, lastState };
}

/**
 * The vector–Jacobian product of the scan for upstream dout [Bt, D, L]: recomputes the states forward, then
 * runs the adjoint recurrence backward in time, g_t = C_t dy_t + exp(Δ_{t+1} A) g_{t+1}.
 */
export function scanBackwardFallback(x: ScanHostInputs, dout: Float32Array, f: ScanFlags): ScanHostGrads {
  const { batch, dim, length: L, dState: N } = f;
  const g: ScanHostGrads = {
    u: new Float32Array(batch * dim * L),
    delta: new Float32Array(batch * dim * L),
    A: new Float32Array(dim * N),
    B: new Float32Array(x.B.length),
    C: new Float32Array(x.C.length),
    D: x.D ? new Float32Array(dim) : undefined,
    z: x.z ? new Float32Array(batch * dim * L) : undefined,
    deltaBias: x.deltaBias ? new Float32Array(dim) : undefined,
    initialState: x.initialState ? new Float32Array(batch * dim * N) : undefined,
  };
  const states = new Float64Array((L + 1) * N); // states[t + 1] = h_t, states[0] = h_{-1}
  const decays = new Float64Array(L * N);
  const deltas = new Float64Array(L);
  const carry = new Float64Array(N);
  const dA = new Float64Array(N);
  const dBfixed = new Float64Array(N);
  const dCfixed = new Float64Array(N);
  for (let b = 0; b < batch; b++) {
    for (let d = 0; d < dim; d++) {
      const row = (b * dim + d) * L;
      const stateOffset = (b * dim + d) * N;
      const bias = x.deltaBias ? x.deltaBias[d]! : 0;
      const skip = x.D ? x.D[d]! : 0;
      for (let n = 0; n < N; n++) states[n] = x.initialState ? x.initialState[stateOffset + n]! : 0;
      for (let t = 0; t < L; t++) {
        const u = x.u[row + t]!;
        let dt = x.delta[row + t]! + bias;
        if (f.deltaSoftplus) dt = softplus(dt);
        deltas[t] = dt;
        for (let n = 0; n < N; n++) {
          const bn = f.variableB ? x.B[(b * N + n) * L + t]! : x.B[d * N + n]!;
          const decay = Math.exp(dt * x.A[d * N + n]!);
          decays[t * N + n] = decay;
          states[(t + 1) * N + n] = decay * states[t * N + n]! + dt * u * bn;
        }
      }
      carry.fill(0);
      dA.fill(0);
      dBfixed.fill(0);
      dCfixed.fill(0);
      let dSkip = 0;
      let dBias = 0;
      for (let t = L - 1; t >= 0; t--) {
        const u = x.u[row + t]!;
        const dt = deltas[t]!;
        let dy = dout[row + t]!;
        if (x.z) {
          let pre = skip * u;
          for (let n = 0; n < N; n++) {
            const cn = f.variableC ? x.C[(b * N + n) * L + t]! : x.C[d * N + n]!;
            pre += cn * states[(t + 1) * N + n]!;
          }
          const zz = x.z[row + t]!;
          const s = 1 / (1 + Math.exp(-zz));
          g.z![row + t] = dy * pre * s * (1 + zz * (1 - s));
          dy *= zz * s;
        }
        dSkip += dy * u;
        let du = dy * skip;
        let ddt = 0;
        for (let n = 0; n < N; n++) {
          const an = x.A[d * N + n]!;
          const bIndex = f.variableB ? (b * N + n) * L + t : d * N + n;
          const cIndex = f.variableC ? (b * N + n) * L + t : d * N + n;
          const bn = x.B[bIndex]!;
          const cn = x.C[cIndex]!;
          const ht = states[(t + 1) * N + n]!;
          const hPrev = states[t * N + n]!;
          const decay = decays[t * N + n]!;
          const adj = carry[n]! + cn * dy; // ∂/∂h_t
          if (f.variableC) g.C[cIndex]! += dy * ht;
          else dCfixed[n]! += dy * ht;
          const dDecay = adj * hPrev * decay; // ∂/∂(Δ A) through exp
          dA[n]! += dDecay * dt;
          ddt += dDecay * an + adj * bn * u;
          du += adj * bn * dt;
          if (f.variableB) g.B[bIndex]! += adj * dt * u;
          else dBfixed[n]! += adj * dt * u;
          carry[n] = decay * adj;
        }
        const raw = x.delta[row + t]! + bias;
        const dRaw = f.deltaSoftplus ? ddt * softplusGrad(raw) : ddt;
        g.delta[row + t] = dRaw;
        dBias += dRaw;
        g.u[row + t] = du;
      }
      for (let n = 0; n < N; n++) {
        g.A[d * N + n]! += dA[n]!;
        if (!f.variableB) g.B[d * N + n]! += dBfixed[n]!;
        if (!f.variableC) g.C[d * N + n]! += dCfixed[n]!;
        if (g.initialState) g.initialState[stateOffset + n] = carry[n]!;
      }
      if (g.D) g.D[d]! += dSkip;
      if (g.deltaBias) g.deltaBias[d]! += dBias;
    }
  }
  return g;
}
