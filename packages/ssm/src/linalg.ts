/**
 * Small dense linear algebra in float64 on the host (row-major Float64Array): products, LU solves, the
 * matrix exponential by scaling and squaring with a degree-13 Padé approximant (Higham 2005, "The scaling
 * and squaring method for the matrix exponential revisited", Algorithm 2.3), and a Jacobi eigensolver for
 * symmetric matrices. Used for HiPPO discretization and the NPLR decomposition, where N is small.
 */

/** C [n, n] = A [n, n] · B [n, n]. */
export function matmul64(a: Float64Array, b: Float64Array, n: number, m = n, p = n): Float64Array {
  const c = new Float64Array(n * p);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < m; k++) {
      const x = a[i * m + k]!;
      if (x === 0) continue;
      for (let j = 0; j < p; j++) c[i * p + j]! += x * b[k * p + j]!;
    }
  }
  return c;
}

/** The n × n identity. */
export function eye64(n: number): Float64Array {
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) out[i * n + i] = 1;
  return out;
}

/** The maximum absolute column sum (the 1-norm of a matrix). */
export function norm1(a: Float64Array, n: number): number {
  let best = 0;
  for (let j = 0; j < n; j++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += Math.abs(a[i * n + j]!);
    best = Math.max(best, s);
  }
  return best;
}

/**
 * Solves A X = B for X [n, m] by LU with partial pivoting (A [n, n], B [n, m]; neither is modified).
 * Throws when A is singular to working precision.
 */
export function solve64(a: Float64Array, b: Float64Array, n: number, m: number, fn = 'ssm.solve'): Float64Array {
  const lu = a.slice();
  const x = b.slice();
  for (let k = 0; k < n; k++) {
    let pivot = k;
    let best = Math.abs(lu[k * n + k]!);
    for (let i = k + 1; i < n; i++) {
      const v = Math.abs(lu[i * n + k]!);
      if (v > best) {
        best = v;
        pivot = i;
      }
    }
    if (best === 0 || !Number.isFinite(best)) {
      throw new Error(`${fn}: the matrix is singular (no pivot in column ${k})`);
    }
    if (pivot !== k) {
      for (let j = 0; j < n; j++) {
        const t = lu[k * n + j]!;
        lu[k * n + j] = lu[pivot * n + j]!;
        lu[pivot * n + j] = t;
      }
      for (let j = 0; j < m; j++) {
        const t = x[k * m + j]!;
        x[k * m + j] = x[pivot * m + j]!;
        x[pivot * m + j] = t;
      }
    }
    const d = lu[k * n + k]!;
    for (let i = k + 1; i < n; i++) {
      const f = lu[i * n + k]! / d;
      if (f === 0) continue;
      lu[i * n + k] = f;
      for (let j = k + 1; j < n; j++) lu[i * n + j]! -= f * lu[k * n + j]!;
      for (let j = 0; j < m; j++) x[i * m + j]! -= f * x[k * m + j]!;
    }
  }
  for (let i = n - 1; i >= 0; i--) {
    const d = lu[i * n + i]!;
    for (let j = 0; j < m; j++) {
      let s = x[i * m + j]!;
      for (let k = i + 1; k < n; k++) s -= lu[i * n + k]! * x[k * m + j]!;
      x[i * m + j] = s / d;
    }
  }
  return x;
}

// Padé coefficients b_0..b_13 of degree 13 (Higham 2005, Table 10.4 / eq. 2.5) and its 1-norm bound θ13.
const PADE13 = [
  64764752532480000, 32382376266240000, 7771770303897600, 1187353796428800, 129060195264000, 10559470521600,
  670442572800, 33522128640, 1323241920, 40840800, 960960, 16380, 182, 1,
];
const THETA13 = 5.371920351148152;

/**
 * exp(A) for A [n, n] in float64: scale A by 2^-s so that ‖A‖₁ ≤ θ13, evaluate the [13/13] Padé approximant
 * r(A) = (V − U)⁻¹ (V + U) with U odd and V even in A, then square s times.
 */
export function expm64(a: Float64Array, n: number): Float64Array {
  const norm = norm1(a, n);
  const s = norm > THETA13 ? Math.max(0, Math.ceil(Math.log2(norm / THETA13))) : 0;
  const scale = 2 ** -s;
  const A = a.map((v) => v * scale);
  const I = eye64(n);
  const A2 = matmul64(A, A, n);
  const A4 = matmul64(A2, A2, n);
  const A6 = matmul64(A4, A2, n);
  const b = PADE13;
  const nn = n * n;
  const innerU = new Float64Array(nn);
  const innerV = new Float64Array(nn);
  const outerU = new Float64Array(nn);
  const outerV = new Float64Array(nn);
  for (let i = 0; i < nn; i++) {
    innerU[i] = b[13]! * A6[i]! + b[11]! * A4[i]! + b[9]! * A2[i]!;
    innerV[i] = b[12]! * A6[i]! + b[10]! * A4[i]! + b[8]! * A2[i]!;
    outerU[i] = b[7]! * A6[i]! + b[5]! * A4[i]! + b[3]! * A2[i]! + b[1]! * I[i]!;
    outerV[i] = b[6]! * A6[i]! + b[4]! * A4[i]! + b[2]! * A2[i]! + b[0]! * I[i]!;
  }
  const A6U = matmul64(A6, innerU, n);
  for (let i = 0; i < nn; i++) A6U[i]! += outerU[i]!;
  const U = matmul64(A, A6U, n);
  const V = matmul64(A6, innerV, n);
  for (let i = 0; i < nn; i++) V[i]! += outerV[i]!;
  const P = new Float64Array(nn);
  const Q = new Float64Array(nn);
  for (let i = 0; i < nn; i++) {
    P[i] = V[i]! + U[i]!;
    Q[i] = V[i]! - U[i]!;
  }
  let R = solve64(Q, P, n, n, 'ssm.expm');
  for (let k = 0; k < s; k++) R = matmul64(R, R, n);
  return R;
}

/**
 * Eigen-decomposition of a real symmetric matrix S [n, n] by cyclic Jacobi rotations.
 * Returns eigenvalues ascending and the eigenvectors as the columns of V [n, n] (S = V diag(w) Vᵀ).
 */
export function eighSymmetric64(s: Float64Array, n: number): { values: Float64Array; vectors: Float64Array } {
  const a = s.slice();
  const v = eye64(n);
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) off += a[i * n + j]! ** 2;
    if (off < 1e-30) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q]!;
        if (Math.abs(apq) < 1e-300) continue;
        const theta = (a[q * n + q]! - a[p * n + p]!) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const sn = t * c;
        for (let k = 0; k < n; k++) {
          const akp = a[k * n + p]!;
          const akq = a[k * n + q]!;
          a[k * n + p] = c * akp - sn * akq;
          a[k * n + q] = sn * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p * n + k]!;
          const aqk = a[q * n + k]!;
          a[p * n + k] = c * apk - sn * aqk;
          a[q * n + k] = sn * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k * n + p]!;
          const vkq = v[k * n + q]!;
          v[k * n + p] = c * vkp - sn * vkq;
          v[k * n + q] = sn * vkp + c * vkq;
        }
      }
    }
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => a[i * n + i]! - a[j * n + j]!);
  const values = Float64Array.from(order, (i) => a[i * n + i]!);
  const vectors = new Float64Array(n * n);
  order.forEach((src, dst) => {
    for (let k = 0; k < n; k++) vectors[k * n + dst] = v[k * n + src]!;
  });
  return { values, vectors };
}
