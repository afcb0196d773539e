import * as tf from '@tensorflow/tfjs-core';
import { initBackend, testing, ValueError } from '@lab/tensor';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseSafetensors, quantize, readSafetensors, writeSafetensors } from '../src/index.js';

/** Builds a file by hand from the specification: u64 LE header length, JSON header, byte buffer. */
function handBuilt(header: string, data: number[], lengthOverride?: number): Uint8Array {
  const json = new TextEncoder().encode(header);
  const out = new Uint8Array(8 + json.length + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, lengthOverride ?? json.length, true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

describe.each(['cpu', 'wasm'] as const)('%s', (backend) => {
  beforeAll(async () => {
    await initBackend(backend);
  });

  it('parses a file built by hand from the specification (every float dtype, little-endian)', () => {
    const header = JSON.stringify({
      __metadata__: { format: 'pt' },
      half: { dtype: 'F16', shape: [2], data_offsets: [0, 4] },
      brain: { dtype: 'BF16', shape: [1, 2], data_offsets: [4, 8] },
      single: { dtype: 'F32', shape: [], data_offsets: [8, 12] },
      e4m3: { dtype: 'F8_E4M3', shape: [2], data_offsets: [12, 14] },
      e5m2: { dtype: 'F8_E5M2', shape: [2], data_offsets: [14, 16] },
      ids: { dtype: 'I64', shape: [1], data_offsets: [16, 24] },
      flag: { dtype: 'BOOL', shape: [2], data_offsets: [24, 26] },
      empty: { dtype: 'F32', shape: [0, 3], data_offsets: [26, 26] },
      small: { dtype: 'U16', shape: [1], data_offsets: [26, 28] },
    });
    const data = [
      0x00, 0x3c, 0x00, 0xc0, // F16 1, -2
      0x80, 0x3f, 0x40, 0xc0, // BF16 1, -3
      0x00, 0x00, 0x20, 0x41, // F32 10
      0x7e, 0xb8, // E4M3 448, -1
      0x7c, 0x3c, // E5M2 inf, 1
      0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // I64 -1
      0x01, 0x00, // BOOL
      0xff, 0xff, // U16 65535
    ];
    const { tensors, dtypes, metadata } = readSafetensors(handBuilt(header, data));
    expect(metadata).toEqual({ format: 'pt' });
    expect(dtypes.e4m3).toBe('F8_E4M3');
    expect(Array.from(tensors.half!.dataSync())).toEqual([1, -2]);
    expect(tensors.brain!.shape).toEqual([1, 2]);
    expect(Array.from(tensors.brain!.dataSync())).toEqual([1, -3]);
    expect(tensors.single!.shape).toEqual([]);
    expect(tensors.single!.dataSync()[0]).toBe(10);
    expect(Array.from(tensors.e4m3!.dataSync())).toEqual([448, -1]);
    expect(Array.from(tensors.e5m2!.dataSync())).toEqual([Number.POSITIVE_INFINITY, 1]);
    expect(tensors.ids!.dtype).toBe('int32');
    expect(Array.from(tensors.ids!.dataSync())).toEqual([-1]);
    expect(tensors.flag!.dtype).toBe('bool');
    expect(tensors.empty!.shape).toEqual([0, 3]);
    expect(Array.from(tensors.small!.dataSync())).toEqual([65535]);
    expect(() => readSafetensors(handBuilt('{"big":{"dtype":"U32","shape":[1],"data_offsets":[0,4]}}', [0, 0, 0, 0x80]))).toThrow(
      /a U32 value \(2147483648\) does not fit tfjs int32/,
    );
    testing.disposeAll(tensors);
  });

  it('round-trips every float dtype (values rounded as quantize), int32 and bool, with metadata', () => {
    const x = tf.tensor([[0.1, -2.5, 300], [1e-6, 65504, -0]]);
    const ids = tf.tensor([3, -7], [2], 'int32');
    const mask = tf.tensor([true, false, true], [3], 'bool');
    const pairs = [
      ['F32', 'float32'],
      ['F16', 'float16'],
      ['BF16', 'bfloat16'],
      ['F8_E4M3', 'fp8e4m3'],
      ['F8_E5M2', 'fp8e5m2'],
    ] as const;
    for (const [dtype, format] of pairs) {
      const bytes = writeSafetensors({ x, ids, mask }, { dtype, metadata: { step: '12' }, saturate: true });
      const view = new DataView(bytes.buffer);
      expect((8 + view.getUint32(0, true)) % 8).toBe(0); // header padded to 8 bytes
      const { tensors, dtypes, metadata } = readSafetensors(bytes);
      expect(metadata).toEqual({ step: '12' });
      expect(dtypes).toEqual({ x: dtype, ids: 'I32', mask: 'BOOL' });
      const expected = quantize(x, format, { saturate: true });
      expect(Array.from(tensors.x!.dataSync())).toEqual(Array.from(expected.dataSync()));
      expect(Object.is(tensors.x!.dataSync()[5], -0)).toBe(true);
      expect(Array.from(tensors.ids!.dataSync())).toEqual([3, -7]);
      expect(Array.from(tensors.mask!.dataSync())).toEqual([1, 0, 1]);
      testing.disposeAll([tensors, expected]);
    }
    // per-tensor dtypes
    const mixed = readSafetensors(writeSafetensors({ a: x, b: x }, { dtype: { a: 'F16' } }));
    expect(mixed.dtypes).toEqual({ a: 'F16', b: 'F32' });
    testing.disposeAll([x, ids, mask, mixed.tensors]);
  });

  it('rejects truncated and malformed files with a clear error and creates no tensor', () => {
    const good = writeSafetensors({ w: tf.tensor([1, 2, 3, 4]) }, { dtype: 'F16' });
    const before = tf.memory().numTensors;
    const cases: [Uint8Array, RegExp][] = [
      [good.subarray(0, 5), /must start with an 8-byte header length, got 5 bytes/],
      [good.subarray(0, 20), /header length \d+ runs past the end of the file/],
      [good.subarray(0, good.length - 1), /past the end of the data .*truncated file/],
      [handBuilt('{"a":', []), /the header is not valid UTF-8 JSON/],
      [handBuilt('[1, 2]', []), /the header must start with '\{', got byte 0x5b/],
      [handBuilt('{"a": 1}  ', []), /tensor "a" must be an object \{ dtype, shape, data_offsets \}/],
      [handBuilt('{"a":{"dtype":"F99","shape":[1],"data_offsets":[0,4]}}', [0, 0, 0, 0]), /tensor "a" has dtype "F99"; supported: F64, F32, F16, BF16, F8_E4M3, F8_E5M2, I64/],
      [handBuilt('{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}', [0, 0, 0, 0]), /shape of non-negative integers/],
      [handBuilt('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}', [0, 0, 0, 0]), /F32 \[2\] needs 8 bytes, data_offsets \[0, 4\] span 4/],
      [handBuilt('{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}', [0, 0, 0, 0]), /data_offsets \[begin, end\] with 0 <= begin <= end/],
      [
        handBuilt('{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"U8","shape":[2],"data_offsets":[1,3]}}', [1, 2, 3]),
        /tensor "b" overlaps the previous tensor/,
      ],
      [handBuilt('{"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}', [1, 2]), /hole in the data before tensor "a"/],
      [handBuilt('{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', [1, 2]), /1 trailing bytes not covered/],
      [handBuilt('{"__metadata__":{"n":1}}', []), /__metadata__\["n"\] must be a string, got number/],
      [handBuilt('{}', [], 2 ** 31), /exceeds the 100000000-byte limit/],
    ];
    for (const [bytes, message] of cases) {
      expect(() => readSafetensors(bytes)).toThrow(ValueError);
      expect(() => readSafetensors(bytes)).toThrow(message);
    }
    expect(() => parseSafetensors('file' as never)).toThrow(/precision\.parseSafetensors: buffer must be a Uint8Array or ArrayBuffer, got string/);
    expect(tf.memory().numTensors).toBe(before);
    const x = tf.tensor([1]);
    expect(() => writeSafetensors({ __metadata__: x })).toThrow(/"__metadata__" is reserved/);
    expect(() => writeSafetensors({ x }, { dtype: 'F64' as never })).toThrow(/options\.dtype must be one of F32, F16, BF16, F8_E4M3, F8_E5M2/);
    expect(() => writeSafetensors({ x }, { metadata: { a: 1 as never } })).toThrow(/options\.metadata\["a"\] must be a string/);
    x.dispose();
  });
});
