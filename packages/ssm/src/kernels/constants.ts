/** The constant table of the scan kernels (assembly/index.ts `loadConstants`): each value splat to 4 lanes. */
const VALUES: [kind: 'f' | 'i', value: number][] = [
  ['f', -87.33654], // EXP_LO
  ['f', 88.72283], // EXP_HI
  ['f', Math.LOG2E], // LOG2E
  ['f', 12582912.0], // MAGIC
  ['f', 0.693359375], // LN2_HI
  ['f', -0.00021219444], // LN2_LO
  ['f', 0.000198756915], // EP0
  ['f', 0.0013981999507], // EP1
  ['f', 0.0083334519073], // EP2
  ['f', 0.041665795894], // EP3
  ['f', 0.16666665459], // EP4
  ['f', 0.50000001201], // EP5
  ['f', 1.0], // ONE
  ['i', 127], // I127
  ['f', Math.SQRT1_2], // SQRTHF
  ['i', 2155872255], // MANT_MASK
  ['i', 1056964608], // HALF_BITS
  ['i', 126], // I126
  ['f', 0.070376836292], // LP0
  ['f', -0.1151461031], // LP1
  ['f', 0.1167699874], // LP2
  ['f', -0.12420140846], // LP3
  ['f', 0.14249322787], // LP4
  ['f', -0.16668057665], // LP5
  ['f', 0.20000714765], // LP6
  ['f', -0.24999993993], // LP7
  ['f', 0.33333331174], // LP8
  ['f', 0.5], // HALF
  ['f', 20.0], // TWENTY
  ['f', 0.0], // ZERO
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
