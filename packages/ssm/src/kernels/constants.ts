/** The constant table of the scan kernels (assembly/index.ts `loadConstants`): each value splat to 4 lanes. */
const VALUES: [kind: 'f' | 'i', value: number][] = [
  ['f', Math.LOG2E], // LOG2E
  ['f', 0.693359375], // LN2_HI: ln 2 in two parts (Cody–Waite)
  ['f', -0.00021219444], // LN2_LO
  ['f', 1.0], // ONE
  ['f', 0.0], // ZERO
  // The decays 2^x (exp2d): x clamped to [−125, 127.49], magic 1.5·2²³ + 127, and
  // 2^r ≈ 1 + r(Q1 + r(Q2 + r(Q3 + r(Q4 + r Q5)))) on |r| ≤ ½, minimax in relative error (fitted for this kernel).
  ['f', -125.0], // X2_LO
  ['f', 127.49], // X2_HI
  ['f', 12583039.0], // X2_MAGIC
  ['f', 0.6931465864181519], // Q1
  ['f', 0.24022166430950165], // Q2
  ['f', 0.055510472506284714], // Q3
  ['f', 0.009674952365458012], // Q4
  ['f', 0.0013202981790527701], // Q5
  // expNonPositive (softplus, sigmoid, which take e^−|x| only): the same polynomial in e^r, E_j = Q_j·log₂(e)^j,
  // x clamped below at −86.6.
  ['f', -86.6], // EXPV_LO
  ['f', 0.9999991655349731], // E1
  ['f', 0.49998992681503296], // E2
  ['f', 0.1666857749223709], // E3
  ['f', 0.041912831366062164], // E4
  ['f', 0.008251724764704704], // E5
  // log1p(e) = 2s(1 + t(K1 + t(K2 + t(K3 + t K4)))), s = e/(2+e), t = s² ≤ 1/9: minimax for atanh(s)/s.
  ['f', 0.33333224058151245], // K1
  ['f', 0.20010069012641907], // K2
  ['f', 0.14010071754455566], // K3
  ['f', 0.139678493142128], // K4
  ['f', 2.0], // TWO
  ['f', -0.0], // SIGN: the sign bit alone
];

/** The table as 16-byte rows (float bits, or integer bits for 'i' entries). */
export function constantTable(): Float32Array {
  const table = new Float32Array(VALUES.length * 4);
  const bits = new Int32Array(table.buffer);
  VALUES.forEach(([kind, value], i) => {
    for (let lane = 0; lane < 4; lane++) {
      if (kind === 'f') table[i * 4 + lane] = value;
      else bits[i * 4 + lane] = value | 0;
    }
  });
  return table;
}
