/**
 * Bulk float conversions: this package's WebAssembly SIMD kernels and its TypeScript fallback against
 * @petamoriken/float16 (DataView setFloat16/getFloat16 loops, f16round, Float16Array), the JavaScript float16
 * library a user would otherwise pick. Timed runs reuse their output arrays where the API allows it.
 */
import { type BenchCase, type BenchSuite, defineSuite } from '@lab/tooling/bench';
import { setForceKernelFallback } from '@lab/tensor';
import * as tf from '@tensorflow/tfjs-core';
import { Float16Array, f16round, getFloat16, setFloat16 } from '@petamoriken/float16';
import {
  fromBfloat16,
  fromFloat16,
  fromFp8E4M3,
  fromFp8E5M2,
  quantize,
  roundArray,
  toBfloat16,
  toFloat16,
  toFp8E4M3,
  toFp8E5M2,
} from '../src/index.js';

/** Deterministic float32 inputs spread over the float16 range and past it (subnormals, normals, overflow). */
function inputs(n: number): Float32Array {
  const out = new Float32Array(n);
  let state = 0x9e3779b9;
  for (let i = 0; i < n; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    const mantissa = 1 + (state & 0xffff) / 65536;
    const exponent = ((state >>> 16) % 48) - 30; // 2^-30 .. 2^17
    out[i] = (state & 0x80000000 ? -1 : 1) * mantissa * 2 ** exponent;
  }
  return out;
}

const values = (n: number) => ({ amount: n, unit: 'values' });

/** Runs `fn` on the TypeScript fallback (as on an engine without WebAssembly SIMD). */
function onFallback(fn: () => void): () => void {
  return () => {
    setForceKernelFallback(true);
    try {
      fn();
    } finally {
      setForceKernelFallback(false);
    }
  };
}

function mismatches(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let count = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i] && !(Number.isNaN(a[i]) && Number.isNaN(b[i]))) count++;
  return count;
}

const float16Encode = defineSuite({
  id: 'precision/float16-encode',
  title: 'float32 → float16 bits',
  description:
    'Bulk float32 → float16 (round to nearest even) into a Uint16Array: @lab/precision SIMD and its TypeScript fallback against @petamoriken/float16 (setFloat16 loop over a DataView, and the Float16Array constructor).',
  cases: ({ quick }) => {
    const sizes = quick ? [1 << 14] : [1 << 18, 1 << 24];
    return sizes.map((n): BenchCase => {
      const src = inputs(n);
      const dst = new Uint16Array(n);
      const view = new DataView(dst.buffer);
      const variants = [
        { name: '@petamoriken Float16Array(src)', run: () => void new Float16Array(src), work: values(n) },
        { name: '@lab/precision TS fallback', run: onFallback(() => toFloat16(src, dst)), work: values(n) },
        { name: '@lab/precision SIMD', run: () => void toFloat16(src, dst), work: values(n) },
      ];
      // The DataView loop runs at ~1 M values/s: timed on 256 K values only.
      if (n <= 1 << 18) {
        variants.unshift({
          name: '@petamoriken setFloat16 loop',
          run: () => {
            for (let i = 0; i < n; i++) setFloat16(view, 2 * i, src[i]!, true);
          },
          work: values(n),
        });
      }
      return {
        name: `n=${n}`,
        params: { n },
        samples: n > 1 << 18 ? 3 : 5,
        variants,
        measure: () => {
          const ours = toFloat16(src);
          const theirs = new Uint16Array(new Float16Array(src).buffer);
          return { 'mismatchedBits:vsPetamoriken': mismatches(ours, theirs) };
        },
      };
    });
  },
  charts: [{ title: 'float32 → float16 throughput', x: 'n', y: 'throughput', logX: true, logY: true }],
});

const float16Decode = defineSuite({
  id: 'precision/float16-decode',
  title: 'float16 bits → float32',
  description:
    'Bulk float16 → float32 from a Uint16Array: @lab/precision SIMD and its TypeScript fallback against @petamoriken/float16 (getFloat16 loop over a DataView, and Float32Array.from(Float16Array)).',
  cases: ({ quick }) => {
    const sizes = quick ? [1 << 14] : [1 << 18, 1 << 24];
    return sizes.map((n): BenchCase => {
      const bits = toFloat16(inputs(n));
      const half = new Float16Array(bits.buffer);
      const view = new DataView(bits.buffer);
      const dst = new Float32Array(n);
      const variants = [
        { name: '@petamoriken Float32Array.from(Float16Array)', run: () => void Float32Array.from(half), work: values(n) },
        { name: '@lab/precision TS fallback', run: onFallback(() => fromFloat16(bits, dst)), work: values(n) },
        { name: '@lab/precision SIMD', run: () => void fromFloat16(bits, dst), work: values(n) },
      ];
      if (n <= 1 << 18) {
        variants.unshift({
          name: '@petamoriken getFloat16 loop',
          run: () => {
            for (let i = 0; i < n; i++) dst[i] = getFloat16(view, 2 * i, true);
          },
          work: values(n),
        });
      }
      return {
        name: `n=${n}`,
        params: { n },
        samples: n > 1 << 18 ? 3 : 5,
        variants,
        measure: () => ({ 'mismatchedBits:vsPetamoriken': mismatches(fromFloat16(bits), Float32Array.from(half)) }),
      };
    });
  },
  charts: [{ title: 'float16 → float32 throughput', x: 'n', y: 'throughput', logX: true, logY: true }],
});

const float16Round = defineSuite({
  id: 'precision/f16round',
  title: 'Rounding float32 arrays to float16 values',
  description:
    'Math.f16round over a Float32Array (the rounding of simulated FP16 training): @petamoriken f16round in a loop against @lab/precision roundArray (SIMD encode + decode, and the TypeScript fallback).',
  cases: ({ quick }) => {
    const sizes = quick ? [1 << 14] : [1 << 18, 1 << 24];
    return sizes.map((n): BenchCase => {
      const src = inputs(n);
      const dst = new Float32Array(n);
      return {
        name: `n=${n}`,
        params: { n },
        samples: n > 1 << 18 ? 3 : 5,
        variants: [
          {
            name: '@petamoriken f16round loop',
            run: () => {
              for (let i = 0; i < n; i++) dst[i] = f16round(src[i]!);
            },
            work: values(n),
          },
          { name: '@lab/precision roundArray TS fallback', run: onFallback(() => roundArray(src, 'float16', dst)), work: values(n) },
          { name: '@lab/precision roundArray SIMD', run: () => void roundArray(src, 'float16', dst), work: values(n) },
        ],
        measure: () => ({
          'mismatchedValues:vsPetamoriken': mismatches(roundArray(src, 'float16'), Float32Array.from(src, (x) => f16round(x))),
        }),
      };
    });
  },
});

const narrowFormats = defineSuite({
  id: 'precision/narrow-formats',
  title: 'bfloat16 and fp8 bulk conversions',
  description:
    'float32 ↔ bfloat16, fp8 E4M3FN and fp8 E5M2 over typed arrays (no JavaScript library offers these): the SIMD kernels against the package’s own TypeScript fallback.',
  cases: ({ quick }) => {
    const n = quick ? 1 << 14 : 1 << 24;
    const src = inputs(n);
    const dst16 = new Uint16Array(n);
    const dst8 = new Uint8Array(n);
    const out = new Float32Array(n);
    const bf16 = toBfloat16(src);
    const e4m3 = toFp8E4M3(src, undefined, { saturate: true });
    const e5m2 = toFp8E5M2(src);
    const pair = (name: string, run: () => void): BenchCase => ({
      name,
      params: { n, conversion: name },
      samples: quick ? 3 : 3,
      variants: [
        { name: 'TS fallback', run: onFallback(run), work: values(n) },
        { name: 'SIMD', run, work: values(n) },
      ],
    });
    return [
      pair('float32 → bfloat16', () => void toBfloat16(src, dst16)),
      pair('bfloat16 → float32', () => void fromBfloat16(bf16, out)),
      pair('float32 → e4m3fn (saturating)', () => void toFp8E4M3(src, dst8, { saturate: true })),
      pair('e4m3fn → float32', () => void fromFp8E4M3(e4m3, out)),
      pair('float32 → e5m2', () => void toFp8E5M2(src, dst8)),
      pair('e5m2 → float32', () => void fromFp8E5M2(e5m2, out)),
    ];
  },
});

const quantizeSuite = defineSuite({
  id: 'precision/quantize',
  title: 'quantize (fake quantization of a tensor)',
  description:
    'quantize(x, format) on the active backend: the composite reference made of tfjs ops (exact, ~15 ops) against the fused path (the SIMD round trip on the host).',
  cases: ({ quick }) => {
    // The composite takes ~1 s per million values: 256 K keeps the suite short.
    const n = quick ? 1 << 12 : 1 << 18;
    let x: tf.Tensor | undefined;
    return (['float16', 'bfloat16', 'fp8e4m3'] as const).map(
      (format): BenchCase => ({
        name: `${format} n=${n}`,
        params: { n, format },
        setup: () => {
          x = tf.tensor(inputs(n), [n]);
        },
        teardown: () => {
          x?.dispose();
        },
        variants: [
          { name: 'tfjs composite', run: () => quantize(x!, format, { impl: 'composite' }).dispose(), work: values(n) },
          { name: 'fused (SIMD)', run: () => quantize(x!, format, { impl: 'fused' }).dispose(), work: values(n) },
        ],
        measure: () => {
          const a = quantize(x!, format, { impl: 'composite' });
          const b = quantize(x!, format, { impl: 'fused' });
          const result = { 'mismatchedValues:fusedVsComposite': mismatches(a.dataSync(), b.dataSync()) };
          tf.dispose([a, b]);
          return result;
        },
      }),
    );
  },
});

export const suites: BenchSuite[] = [float16Encode, float16Decode, float16Round, narrowFormats, quantizeSuite];
