// The fused histogram (WebAssembly SIMD and its TypeScript fallback) against the composite reference in tfjs
// ops, for every pair of element types, ignore modes, bad labels and logits.
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, setForceKernelFallback } from '@lab/tensor';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  confusionMatrix,
  confusionMatrixTfjs,
  histogramComposite,
  histogramFallback,
  histogramLogitsComposite,
  histogramLogitsHost,
  histogramWasm,
  syntheticScene,
} from '../src/index.js';

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

/** Labels in [0, C), with runs (so the run fast paths are taken) and a share of ignore / bad values. */
function labels(n: number, C: number, seed: number, extra: number[] = [], extraRate = 0): number[] {
  const r = lcg(seed);
  const out: number[] = [];
  let v = 0;
  for (let i = 0; i < n; i++) {
    if (r() < 0.15) v = Math.floor(r() * C);
    out.push(extra.length > 0 && r() < extraRate ? extra[Math.floor(r() * extra.length)]! : v);
  }
  return out;
}

const makers = {
  u8: (a: number[]) => Uint8Array.from(a),
  u16: (a: number[]) => Uint16Array.from(a),
  i32: (a: number[]) => Int32Array.from(a),
  f32: (a: number[]) => Float32Array.from(a),
} as const;
type Kind = keyof typeof makers;
const kinds = Object.keys(makers) as Kind[];

describe.each(['cpu', 'wasm'] as const)('%s', (backend) => {
  beforeAll(async () => {
    await initBackend(backend);
  });
  afterEach(() => setForceKernelFallback(false));

  const pairs = kinds.flatMap((a) => kinds.map((b) => [a, b] as const));
  it.each(pairs)('kernel %s × %s = fallback = composite (ignore outside, inside and absent)', (tk, pk) => {
    const C = 7;
    const n = 16 * 97 + 5; // unrolled blocks and a tail
    for (const ignoreIndex of [255, 3, undefined]) {
      const t = labels(n, C, 1, [255], 0.1);
      const p = labels(n, C, 2, [255], 0.03);
      const spec = { numClasses: C, ignoreIndex };
      const wasm = histogramWasm(makers[tk](t), makers[pk](p), spec);
      const fallback = histogramFallback(makers[tk](t), makers[pk](p), spec);
      const composite = histogramComposite(tf.tensor(t), tf.tensor(p), spec);
      expect(Array.from(wasm)).toEqual(Array.from(composite));
      expect(Array.from(fallback)).toEqual(Array.from(composite));
      expect(wasm.reduce((a, b) => a + b, 0)).toBe(n);
    }
  });

  it('bad labels (out of range, fractions, NaN, negatives) land in the bad code for every kind', () => {
    const C = 5;
    const n = 16 * 40;
    const t = labels(n, C, 3);
    const p = labels(n, C, 4);
    t[17] = 9;
    p[100] = 6;
    const pf = p.slice();
    pf[33] = 1.5;
    pf[34] = Number.NaN;
    const tf32 = Float32Array.from(t);
    tf32[200] = -1;
    for (const [tt, pp] of [
      [Uint8Array.from(t), Uint8Array.from(p)],
      [tf32, Float32Array.from(pf)],
      [Int32Array.from(t), Float32Array.from(pf)],
    ] as const) {
      const spec = { numClasses: C, ignoreIndex: 255 };
      const wasm = histogramWasm(tt, pp, spec);
      expect(Array.from(wasm)).toEqual(Array.from(histogramFallback(tt, pp, spec)));
      expect(Array.from(wasm)).toEqual(
        Array.from(histogramComposite(tf.tensor(Array.from(tt)), tf.tensor(Array.from(pp)), spec)),
      );
      const S = C + 2;
      let bad = 0;
      for (let j = 0; j < S; j++) bad += wasm[(S - 1) * S + j]!;
      for (let i = 0; i < S - 1; i++) bad += wasm[i * S + S - 1]!;
      expect(bad).toBeGreaterThanOrEqual(2);
    }
  });

  it('logits: argmax inside the kernel = tf.argMax composite; no one-hot, no leaks', () => {
    const C = 6;
    const shape = [2, 9, 13];
    const n = 2 * 9 * 13;
    const r = lcg(9);
    const logits = Float32Array.from({ length: n * C }, () => r() * 4 - 2);
    const t = labels(n, C, 5, [255], 0.1);
    const spec = { numClasses: C, ignoreIndex: 255 };
    for (const fallback of [false, true]) {
      setForceKernelFallback(fallback);
      const host = histogramLogitsHost(Int32Array.from(t), logits, spec);
      const composite = histogramLogitsComposite(tf.tensor(t, shape), tf.tensor(logits, [...shape, C]), spec);
      expect(Array.from(host)).toEqual(Array.from(composite));
    }
    const lt = tf.tensor(logits, [...shape, C]);
    const tt = tf.tensor(t, shape, 'int32');
    const before = tf.memory().numTensors;
    const cm = confusionMatrix(lt, tt, { numClasses: C, ignoreIndex: 255, fromLogits: true });
    expect(tf.memory().numTensors).toBe(before);
    const argmax = tf.argMax(lt, -1);
    expect(Array.from(cm)).toEqual(
      Array.from(confusionMatrix(argmax, tt, { numClasses: C, ignoreIndex: 255 })),
    );
    tf.dispose([lt, tt, argmax]);
  });

  it('logits: ties go to the first index, NaN wins (torch.argmax), in SIMD lanes and the scalar tail', () => {
    const N = Number.NaN;
    // 4 classes; rows chosen so that every lane position of both 4-pixel groups and the tail sees a case.
    const rows = [
      [1, 3, 3, 0], // tie → 1
      [0, N, 5, 1], // NaN → 1 (wins although 5 is larger later)
      [2, 2, 2, 2], // all equal → 0
      [N, 9, N, 1], // first NaN → 0
      [-1, -3, -0.5, -2], // → 2
      [0, 0, 0, 7], // → 3
      [4, N, N, 4], // → 1
      [1, 2, 3, 4], // → 3
      [5, 1, N, 0], // → 2
      [9, 8, 7, 6], // → 0 (tail)
      [0, 1, 1, N], // → 3 (tail)
    ];
    const expectedArgmax = [1, 1, 0, 0, 2, 3, 1, 3, 2, 0, 3];
    const logits = Float32Array.from(rows.flat());
    // Target = the expected argmax: every pixel must land on the diagonal.
    const target = Int32Array.from(expectedArgmax);
    const expected = new Array<number>(16).fill(0);
    for (const a of expectedArgmax) expected[a * 4 + a]! += 1;
    for (const fallback of [false, true]) {
      setForceKernelFallback(fallback);
      const cm = confusionMatrix(logits, target, { numClasses: 4, fromLogits: true });
      expect(Array.from(cm)).toEqual(expected);
    }
  });

  it('a synthetic Cityscapes-like batch: kernel = tfjs denseBincount composite = plain loop', () => {
    const { target, pred } = syntheticScene({ batch: 2, height: 64, width: 128, seed: 3 });
    const C = 19;
    const plain = new Float64Array(C * C);
    for (let i = 0; i < target.length; i++) if (target[i] !== 255) plain[target[i]! * C + pred[i]!]! += 1;
    const ours = confusionMatrix(pred, target, { numClasses: C, ignoreIndex: 255 });
    expect(Array.from(ours)).toEqual(Array.from(plain));
    const t = tf.tensor(target, [2, 64, 128], 'int32');
    const p = tf.tensor(pred, [2, 64, 128], 'int32');
    expect(Array.from(confusionMatrixTfjs(p, t, { numClasses: C, ignoreIndex: 255 }))).toEqual(
      Array.from(plain),
    );
    tf.dispose([t, p]);
  });

  it('bool, int32 and float32 tensors are read in place (the wasm backend view) and counted exactly', () => {
    const t = tf.tensor([true, false, true, true, false, false], [2, 3], 'bool');
    const p = tf.tensor([1, 0, 0, 1, 1, 0], [2, 3], 'int32');
    const pf = tf.cast(p, 'float32');
    const before = tf.memory().numTensors;
    const expected = [2, 1, 1, 2]; // rows = target
    expect(Array.from(confusionMatrix(p, t, { numClasses: 2 }))).toEqual(expected);
    expect(Array.from(confusionMatrix(pf, t, { numClasses: 2 }))).toEqual(expected);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([t, p, pf]);
  });

  it('other typed arrays (Int8, Int16, Uint32, Float64, Uint8Clamped) take the TypeScript path with the same counts', () => {
    const C = 5;
    const t = labels(16 * 30 + 3, C, 21, [255], 0.05);
    const p = labels(16 * 30 + 3, C, 22);
    const spec = { numClasses: C, ignoreIndex: 255 };
    const reference = confusionMatrix(Uint8Array.from(p), Uint8Array.from(t), spec);
    for (const make of [
      (a: number[]) => Int16Array.from(a),
      (a: number[]) => Uint32Array.from(a),
      (a: number[]) => Float64Array.from(a),
      (a: number[]) => Uint8ClampedArray.from(a),
    ]) {
      expect(Array.from(confusionMatrix(make(p), make(t), spec))).toEqual(Array.from(reference));
    }
    const p8 = Int8Array.from(p);
    expect(Array.from(confusionMatrix(p8, Uint8Array.from(t), spec))).toEqual(Array.from(reference));
  });

  it('counts stay exact in float64 and chunking (more pixels than one chunk) changes nothing', () => {
    const n = (1 << 20) * 2 + 123;
    const t = new Uint8Array(n);
    const p = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      t[i] = (i >> 10) % 3;
      p[i] = (i >> 9) % 3;
    }
    const spec = { numClasses: 3, ignoreIndex: 255 };
    expect(Array.from(histogramWasm(t, p, spec))).toEqual(Array.from(histogramFallback(t, p, spec)));
  });
});
