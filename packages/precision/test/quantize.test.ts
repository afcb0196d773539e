import * as tf from '@tensorflow/tfjs-core';
import { initBackend, testing } from '@lab/tensor';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  decodeTensor,
  encodeTensor,
  FORMAT_NAMES,
  float32ToFloat16Bits,
  fromFloat16,
  quantize,
  roundToFormat,
  toFloat16,
} from '../src/index.js';
import { fixture } from './helpers.js';

/** Fixture inputs (edge cases, random patterns and magnitudes) plus the specials, as one float32 vector. */
function sample(): Float32Array {
  const bits = fixture().f32_bits.slice(0, 6000);
  return new Float32Array(Uint32Array.from(bits).buffer);
}

const sameBits = (a: Float32Array, b: Float32Array): number => {
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  let bad = 0;
  for (let i = 0; i < x.length; i++) {
    const nan = Number.isNaN(a[i]!) && Number.isNaN(b[i]!);
    if (!nan && x[i] !== y[i]) bad++;
  }
  return bad;
};

describe.each(['cpu', 'wasm'] as const)('%s', (backend) => {
  beforeAll(async () => {
    await initBackend(backend);
  });

  for (const format of FORMAT_NAMES) {
    for (const saturate of format.startsWith('fp8') ? [false, true] : [false]) {
      it(`quantize to ${format}${saturate ? ' (saturating)' : ''}: fused = composite = roundToFormat, bit for bit`, () => {
        const data = sample();
        const x = tf.tensor(data, [data.length]);
        const fused = quantize(x, format, { saturate, impl: 'fused' });
        const composite = quantize(x, format, { saturate, impl: 'composite' });
        const f = fused.dataSync() as Float32Array;
        const c = composite.dataSync() as Float32Array;
        expect(sameBits(f, c)).toBe(0);
        const reference = data.map((v) => roundToFormat(v, format, format.startsWith('fp8') ? { saturate } : undefined));
        expect(sameBits(f, reference)).toBe(0);
        testing.disposeAll([x, fused, composite]);
      });
    }
  }

  it('has a straight-through gradient on both paths, and a rounded one with roundGradient', () => {
    const x = tf.tensor([0.1, 1000.3, -2.7, 1e-6]);
    const dy = tf.tensor([1e-9, 3.3, -1, 70000]);
    for (const impl of ['fused', 'composite'] as const) {
      const ste = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(quantize(t, 'float16', { impl }), dy)))(x);
      expect(Array.from(ste.dataSync())).toEqual(Array.from(dy.dataSync()));
      const rounded = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(quantize(t, 'float16', { impl, roundGradient: true }), dy)))(x);
      expect(Array.from(rounded.dataSync())).toEqual([0, roundToFormat(Math.fround(3.3), 'float16'), -1, Number.POSITIVE_INFINITY]);
      testing.disposeAll([ste, rounded]);
    }
    testing.disposeAll([x, dy]);
  });

  it('leaks nothing and keeps shapes', () => {
    const x = tf.randomNormal([3, 4, 5]);
    const { result, leaked } = testing.countLeaks(() => quantize(x, 'bfloat16'));
    expect(leaked).toBe(0);
    expect(result.shape).toEqual([3, 4, 5]);
    const grads = testing.countLeaks(() => tf.grad((t: tf.Tensor) => tf.sum(quantize(t, 'fp8e4m3', { roundGradient: true })))(x));
    expect(grads.leaked).toBe(0);
    testing.disposeAll([x, result, grads.result]);
  });

  it('encodeTensor / decodeTensor round-trip exactly through every format', () => {
    const data = sample().filter((v) => Number.isFinite(v));
    const x = tf.tensor(data, [data.length]);
    for (const format of FORMAT_NAMES) {
      const encoded = encodeTensor(x, format, { saturate: true });
      expect(encoded.data.BYTES_PER_ELEMENT).toBe(format === 'float32' ? 4 : format.includes('16') ? 2 : 1);
      const decoded = decodeTensor(encoded);
      const q = quantize(x, format, { saturate: true });
      expect(sameBits(decoded.dataSync() as Float32Array, q.dataSync() as Float32Array)).toBe(0);
      // decoding then encoding again gives the same patterns
      expect(Array.from(encodeTensor(decoded, format).data)).toEqual(Array.from(encoded.data));
      testing.disposeAll([decoded, q]);
    }
    const small = encodeTensor(tf.tensor([[1, -2], [65504, 1e-8]]), 'float16');
    expect(small.shape).toEqual([2, 2]);
    expect(Array.from(small.data)).toEqual([0x3c00, 0xc000, 0x7bff, float32ToFloat16Bits(1e-8)]);
    expect(Array.from(fromFloat16(toFloat16(new Float32Array([1, -2]))))).toEqual([1, -2]);
    x.dispose();
  });

  it('rejects bad input naming the function and argument', () => {
    const x = tf.tensor([1, 2]);
    const ints = tf.tensor([1, 2], [2], 'int32');
    expect(() => quantize(x, 'float8' as never)).toThrow(/precision\.quantize: format must be one of "float32", "float16"/);
    expect(() => quantize(ints, 'float16')).toThrow(/precision\.quantize: x must be a float32 tensor, got dtype int32/);
    expect(() => quantize(x, 'float16', { rounding: 'even' } as never)).toThrow(/unknown option "rounding"/);
    expect(() => decodeTensor({ format: 'float16', shape: [3], data: new Uint16Array(2) })).toThrow(
      /precision\.decodeTensor: encoded\.data must be of length 3/,
    );
    expect(() => decodeTensor({ format: 'fp8e5m2', shape: [2], data: new Uint16Array(2) })).toThrow(/encoded\.data must be a Uint8Array for fp8e5m2/);
    testing.disposeAll([x, ints]);
  });
});
