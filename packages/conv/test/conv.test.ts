import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { createRng, initBackend, ShapeError, setForceKernelFallback, testing, ValueError } from '@lab/tensor';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  causalConv1d,
  dilateFilter,
  dilatedConv1d,
  dilatedConv2d,
  dilatedDepthwiseConv2d,
  type Padding2d,
} from '../src/index.js';
import {
  depthwiseFilterGradient,
  filterGradient,
  forwardConv,
  inputGradient,
  type Plan,
} from '../src/conv2d.js';
import fixtures from './fixtures/conv.json' with { type: 'json' };
import { type Arr, type RefGeometry, referenceConv, referenceGrads, samePads } from './reference.js';

type FixtureCase = {
  kind: string;
  dilation: number | number[];
  stride?: number[];
  padding?: 'same' | 'valid';
  [key: string]: unknown;
};
const cases = (fixtures as { cases: FixtureCase[] }).cases;
type FA = testing.FixtureArray;

const asArr = (t: tf.Tensor): Arr => ({ data: Float64Array.from(t.dataSync()), shape: [...t.shape] });

/** The reference geometry of a 2-D call. */
function refGeometry(
  xShape: number[],
  k: [number, number],
  dilation: [number, number],
  stride: [number, number],
  padding: Padding2d,
): RefGeometry {
  const pads: [[number, number], [number, number]] =
    padding === 'valid'
      ? [
          [0, 0],
          [0, 0],
        ]
      : padding === 'same'
        ? [
            samePads(xShape[1]!, k[0], dilation[0], stride[0]),
            samePads(xShape[2]!, k[1], dilation[1], stride[1]),
          ]
        : typeof padding === 'number'
          ? [
              [padding, padding],
              [padding, padding],
            ]
          : [
              [padding[0][0], padding[0][1]],
              [padding[1][0], padding[1][1]],
            ];
  return { stride, dilation, pads };
}

interface Config {
  dilation: [number, number];
  stride: [number, number];
  padding: Padding2d;
}

const GRADIENT_CONFIGS: Config[] = [];
for (const dilation of [
  [2, 2],
  [3, 3],
  [2, 3],
] as [number, number][]) {
  for (const stride of [
    [1, 1],
    [2, 2],
  ] as [number, number][]) {
    for (const padding of ['same', 'valid'] as const) GRADIENT_CONFIGS.push({ dilation, stride, padding });
  }
}
const EXTRA_CONFIGS: Config[] = [
  { dilation: [1, 1], stride: [1, 1], padding: 'same' },
  { dilation: [1, 1], stride: [2, 3], padding: 'valid' },
  { dilation: [4, 1], stride: [3, 2], padding: 2 },
  { dilation: [2, 2], stride: [1, 2], padding: 5 },
  {
    dilation: [2, 3],
    stride: [2, 1],
    padding: [
      [3, 0],
      [1, 4],
    ],
  },
];
const label = (c: Config) => `d=${c.dilation} s=${c.stride} p=${JSON.stringify(c.padding)}`;

describe.each(['cpu', 'wasm'] as const)('%s', (backend) => {
  beforeAll(async () => {
    await initBackend(backend);
    expect(tf.getBackend()).toBe(backend);
  });

  describe('fixtures (PyTorch F.conv2d / F.conv1d, float64)', () => {
    it.each(cases.filter((c) => c.kind === 'conv2d'))(
      'conv2d dilation $dilation padding $padding within 1e-5',
      (c) => {
        for (const impl of ['auto', 'composite'] as const) {
          const y = dilatedConv2d(
            testing.fixtureTensor(c.x_nhwc as FA),
            testing.fixtureTensor(c.w_hwio as FA),
            {
              dilation: c.dilation as [number, number],
              stride: c.stride as [number, number],
              padding: c.padding!,
              impl,
            },
          );
          expect(y.shape).toEqual((c.y_nhwc as FA).shape);
          expect(testing.relativeError(y.dataSync(), testing.fixtureData(c.y_nhwc as FA))).toBeLessThan(1e-5);
          y.dispose();
        }
      },
    );
    it.each(cases.filter((c) => c.kind === 'causal_conv1d'))(
      'causal conv1d dilation $dilation within 1e-5',
      (c) => {
        const y = causalConv1d(testing.fixtureTensor(c.x_nwc as FA), testing.fixtureTensor(c.w_wio as FA), {
          dilation: c.dilation as number,
        });
        expect(y.shape).toEqual((c.y_nwc as FA).shape);
        expect(testing.relativeError(y.dataSync(), testing.fixtureData(c.y_nwc as FA))).toBeLessThan(1e-5);
        y.dispose();
      },
    );
  });

  describe('dilatedConv2d', () => {
    const rng = createRng(11);
    const x = tf.tensor(rng.normalData(2 * 11 * 10 * 3), [2, 11, 10, 3]);
    const w = tf.tensor(rng.normalData(3 * 3 * 3 * 4), [3, 3, 3, 4]);

    it.each([...GRADIENT_CONFIGS, ...EXTRA_CONFIGS].map((c) => [label(c), c] as const))(
      'forward equals the float64 definition, both paths (%s)',
      (_, c) => {
        const ref = referenceConv(
          asArr(x),
          asArr(w),
          refGeometry(x.shape, [3, 3], c.dilation, c.stride, c.padding),
        );
        for (const impl of ['auto', 'composite'] as const) {
          const y = dilatedConv2d(x, w, { ...c, impl });
          expect(y.shape).toEqual(ref.shape);
          expect(testing.relativeError(y.dataSync(), ref.data)).toBeLessThan(1e-5);
          y.dispose();
        }
      },
    );

    it.each([...GRADIENT_CONFIGS, ...EXTRA_CONFIGS].map((c) => [label(c), c] as const))(
      'gradients equal the chain rule in float64 and the zero-inserted filter conv (%s)',
      async (_, c) => {
        const geometry = refGeometry(x.shape, [3, 3], c.dilation, c.stride, c.padding);
        const yShape = referenceConv(asArr(x), asArr(w), geometry).shape;
        const dy = tf.tensor(createRng(3).normalData(yShape.reduce((a, b) => a * b, 1)), yShape);
        const [dx, dw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(dilatedConv2d(a, b, c), dy)))(
          [x, w],
        );
        const ref = referenceGrads(asArr(x), asArr(w), dy.dataSync(), geometry);
        expect(testing.relativeError(dx!.dataSync(), ref.dx)).toBeLessThan(1e-5);
        expect(testing.relativeError(dw!.dataSync(), ref.dw)).toBeLessThan(1e-5);
        // The same convolution written with an explicitly dilated (zero-inserted) filter, differentiated by
        // tfjs itself. tfjs-wasm has no Conv2DBackpropFilter kernel, so that reference runs on cpu.
        const xs = x.dataSync().slice();
        const ws = w.dataSync().slice();
        const dys = dy.dataSync().slice();
        const pads = geometry.pads;
        await tf.setBackend('cpu');
        const [rx, rw] = tf.tidy(() => {
          const wt = tf.tensor(ws, w.shape);
          const dyt = tf.tensor(dys, dy.shape);
          const grads = tf.grads((a: tf.Tensor, b: tf.Tensor) => {
            const big = dilateFilter(b, c.dilation) as tf.Tensor4D;
            const y = tf.conv2d(
              a as tf.Tensor4D,
              big,
              c.stride,
              [[0, 0], pads[0], pads[1], [0, 0]],
              'NHWC',
              1,
            );
            return tf.sum(tf.mul(y, dyt));
          })([tf.tensor(xs, x.shape), wt]);
          return grads.map((g) => g.dataSync().slice());
        });
        await tf.setBackend(backend);
        expect(testing.relativeError(dx!.dataSync(), rx!)).toBeLessThan(1e-5);
        expect(testing.relativeError(dw!.dataSync(), rw!)).toBeLessThan(1e-5);
        tf.dispose([dx!, dw!, dy]);
      },
    );

    it.each(GRADIENT_CONFIGS.map((c) => [label(c), c] as const))(
      'gradients equal finite differences (%s)',
      (_, c) => {
        const small = tf.tensor(createRng(5).normalData(1 * 9 * 8 * 2), [1, 9, 8, 2]);
        const filter = tf.tensor(createRng(6).normalData(3 * 3 * 2 * 3), [3, 3, 2, 3]);
        const worst = testing.gradientCheck((a, b) => dilatedConv2d(a!, b!, c), [small, filter], {
          samples: 10,
        });
        expect(worst).toBeLessThan(2e-3);
        tf.dispose([small, filter]);
      },
    );

    it('the composite reference and the default path have equal gradients', () => {
      if (backend === 'wasm') {
        // tfjs-wasm cannot differentiate conv2d in its filter at all (no Conv2DBackpropFilter): the reason for this package.
        expect(() =>
          tf.grads((b: tf.Tensor) =>
            tf.sum(dilatedConv2d(x, b, { dilation: 2, padding: 'same', impl: 'composite' })),
          )([w]),
        ).toThrow(/Conv2DBackpropFilter/);
      }
      const c = { dilation: [2, 3] as [number, number], stride: 2, padding: 'same' as const };
      const gx = (impl: 'auto' | 'composite') =>
        tf.grad((a: tf.Tensor) => tf.sum(tf.square(dilatedConv2d(a, w, { ...c, impl }))))(x);
      const [auto, composite] = [gx('auto'), gx('composite')];
      expect(testing.relativeError(auto.dataSync(), composite.dataSync())).toBeLessThan(1e-5);
      tf.dispose([auto, composite]);
    });

    it('second-order gradients work at dilation 2 (gradient convolutions are this same op)', () => {
      // d/dw Σ (∂/∂x Σ y·r)² where ∂/∂x Σ y·r is linear in w: compare against the same through the composite.
      const small = tf.tensor(createRng(8).normalData(1 * 7 * 7 * 2), [1, 7, 7, 2]);
      const filter = tf.tensor(createRng(9).normalData(3 * 3 * 2 * 2), [3, 3, 2, 2]);
      const r = tf.tensor(createRng(10).normalData(1 * 7 * 7 * 2), [1, 7, 7, 2]);
      const opts = { dilation: 2, padding: 'same' as const };
      const inner = (b: tf.Tensor) =>
        tf.grad((a: tf.Tensor) => tf.sum(tf.mul(dilatedConv2d(a, b, opts), r)))(small);
      const outer = tf.grad((b: tf.Tensor) => tf.sum(tf.square(inner(b))))(filter);
      // Closed form: inner(b) = Kᵀ r is linear in b, so outer = 2·J(b)ᵀ inner(b) = grad of ½‖inner‖² doubled;
      // check by finite differences on the scalar.
      const scalar = (b: tf.Tensor) => tf.tidy(() => tf.sum(tf.square(inner(b))).dataSync()[0]!);
      const base = filter.dataSync();
      const g = outer.dataSync();
      for (const idx of [0, 7, 19, 35]) {
        const eps = 1e-2;
        const plus = base.slice();
        plus[idx]! += eps;
        const minus = base.slice();
        minus[idx]! -= eps;
        const numeric =
          (scalar(tf.tensor(plus, filter.shape)) - scalar(tf.tensor(minus, filter.shape))) / (2 * eps);
        expect(Math.abs(numeric - g[idx]!)).toBeLessThan(2e-3 * Math.max(1, Math.abs(numeric)));
      }
      tf.dispose([small, filter, r, outer]);
    });

    it('propagates NaN as IEEE arithmetic does, on every path', () => {
      const data = createRng(12).normalData(1 * 7 * 7 * 2);
      data[0] = Number.NaN; // x[0, 0, 0, 0]: read by output (0, 0) only at dilation 2, 'valid'
      const xn = tf.tensor4d(data, [1, 7, 7, 2]);
      const wn = tf.tensor4d(createRng(13).normalData(3 * 3 * 2 * 3), [3, 3, 2, 3]);
      const plan: Plan = {
        stride: [1, 1],
        dilation: [2, 2],
        pads: [
          [0, 0],
          [0, 0],
        ],
      };
      const outputs = [
        forwardConv(xn, wn, plan, false, 'composite'),
        forwardConv(xn, wn, plan, false, 'fused'),
      ];
      setForceKernelFallback(true);
      outputs.push(forwardConv(xn, wn, plan, false, 'fused'));
      const ones = tf.onesLike(outputs[0]!) as tf.Tensor4D;
      const dwFallback = filterGradient(ones, xn, [3, 3], plan, 'fused');
      setForceKernelFallback(false);
      for (const y of outputs) {
        const v = y.dataSync();
        expect(Number.isNaN(v[0]!)).toBe(true); // y[0, 0, 0, 0]
        expect(Number.isFinite(v[(1 * 3 + 1) * 3]!)).toBe(true); // y[0, 1, 1, 0]
      }
      const dwFused = filterGradient(ones, xn, [3, 3], plan, 'fused');
      for (const dw of [dwFused, dwFallback]) {
        const v = dw.dataSync();
        expect(Number.isNaN(v[0]!)).toBe(true); // tap (0, 0), channel 0 sums x[0, 0, 0, 0]
        expect(Number.isFinite(v[(0 * 2 + 1) * 3]!)).toBe(true); // tap (0, 0), channel 1
      }
      tf.dispose([xn, wn, ones, ...outputs, dwFused, dwFallback]);
    });

    it('leaves no tensors behind (forward and gradients)', () => {
      const c = { dilation: [2, 3] as [number, number], stride: 2, padding: 'same' as const };
      const fwd = testing.countLeaks(() => dilatedConv2d(x, w, c));
      expect(fwd.leaked).toBe(0);
      fwd.result.dispose();
      const back = testing.countLeaks(() =>
        tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(dilatedConv2d(a, b, c)))([x, w]),
      );
      expect(back.leaked).toBe(0);
      tf.dispose(back.result);
    });
  });

  describe('gradient kernels (WebAssembly SIMD and TypeScript fallback) = composite', () => {
    const plans: [string, number[], number[], Plan][] = [
      [
        'd=2 s=1 same, 64→64 channels',
        [1, 9, 10, 64],
        [3, 3],
        {
          stride: [1, 1],
          dilation: [2, 2],
          pads: [
            [2, 2],
            [2, 2],
          ],
        },
      ],
      [
        'd=(2,3) s=2, odd channels 3→5, batch 2',
        [2, 13, 12, 3],
        [3, 3],
        {
          stride: [2, 2],
          dilation: [2, 3],
          pads: [
            [1, 0],
            [3, 2],
          ],
        },
      ],
      [
        'd=3 s=(1,3), 5→9, kernel 2×4',
        [2, 11, 17, 5],
        [2, 4],
        {
          stride: [1, 3],
          dilation: [3, 1],
          pads: [
            [0, 0],
            [0, 4],
          ],
        },
      ],
      [
        'd=1 s=1 valid, 4→8',
        [1, 6, 7, 4],
        [3, 3],
        {
          stride: [1, 1],
          dilation: [1, 1],
          pads: [
            [0, 0],
            [0, 0],
          ],
        },
      ],
      [
        'padding beyond what is read',
        [1, 5, 5, 2],
        [1, 1],
        {
          stride: [3, 3],
          dilation: [1, 1],
          pads: [
            [4, 1],
            [2, 5],
          ],
        },
      ],
    ];
    it.each(plans)('%s', (_, xShape, kernel, plan) => {
      const [n, h, w, c] = xShape as [number, number, number, number];
      const [kh, kw] = kernel as [number, number];
      const oh =
        Math.floor(
          (h + plan.pads[0][0] + plan.pads[0][1] - ((kh - 1) * plan.dilation[0] + 1)) / plan.stride[0],
        ) + 1;
      const ow =
        Math.floor(
          (w + plan.pads[1][0] + plan.pads[1][1] - ((kw - 1) * plan.dilation[1] + 1)) / plan.stride[1],
        ) + 1;
      const o = c === 64 ? 64 : c + 4;
      const x = tf.tensor(createRng(1).normalData(n * h * w * c), [n, h, w, c]) as tf.Tensor4D;
      const dy = tf.tensor(createRng(2).normalData(n * oh * ow * o), [n, oh, ow, o]) as tf.Tensor4D;
      const wf = tf.tensor(createRng(6).normalData(kh * kw * c * o), [kh, kw, c, o]) as tf.Tensor4D;
      const refs = referenceGrads(asArr(x), asArr(wf), dy.dataSync(), {
        stride: [plan.stride[0], plan.stride[1]],
        dilation: [plan.dilation[0], plan.dilation[1]],
        pads: [
          [plan.pads[0][0], plan.pads[0][1]],
          [plan.pads[1][0], plan.pads[1][1]],
        ],
      });
      const ref = refs.dw;
      // dx: the scatter kernel (SIMD, fallback) and the composite (convolution of the zero-inserted dy)
      const dxs = [
        inputGradient(dy, wf, x.shape, plan, false, 'composite'),
        inputGradient(dy, wf, x.shape, plan, false, 'fused'),
      ];
      setForceKernelFallback(true);
      dxs.push(inputGradient(dy, wf, x.shape, plan, false, 'fused'));
      setForceKernelFallback(false);
      for (const t of dxs) {
        expect(t.shape).toEqual(x.shape);
        expect(testing.relativeError(t.dataSync(), refs.dx)).toBeLessThan(1e-5);
      }
      const dxGrads = (impl: 'fused' | 'composite') =>
        tf.grads((a: tf.Tensor, b: tf.Tensor) =>
          tf.sum(tf.mul(inputGradient(a as tf.Tensor4D, b as tf.Tensor4D, x.shape, plan, false, impl), x)),
        )([dy, wf]);
      const [df, dc] = [dxGrads('fused'), dxGrads('composite')];
      expect(testing.relativeError(df[0]!.dataSync(), dc[0]!.dataSync())).toBeLessThan(1e-5);
      expect(testing.relativeError(df[1]!.dataSync(), dc[1]!.dataSync())).toBeLessThan(1e-5);
      tf.dispose([wf, ...dxs, ...df, ...dc]);
      const composite = filterGradient(dy, x, [kh, kw], plan, 'composite');
      const fused = filterGradient(dy, x, [kh, kw], plan, 'fused');
      setForceKernelFallback(true);
      const fallback = filterGradient(dy, x, [kh, kw], plan, 'fused');
      setForceKernelFallback(false);
      expect(fused.shape).toEqual([kh, kw, c, o]);
      for (const t of [composite, fused, fallback])
        expect(testing.relativeError(t.dataSync(), ref)).toBeLessThan(1e-5);
      // the fused op's gradient (bilinear: recomputed through the composite) equals the composite's
      const r = tf.tensor(createRng(3).normalData(kh * kw * c * o), [kh, kw, c, o]);
      const grads = (impl: 'fused' | 'composite') =>
        tf.grads((a: tf.Tensor, b: tf.Tensor) =>
          tf.sum(tf.mul(filterGradient(b as tf.Tensor4D, a as tf.Tensor4D, [kh, kw], plan, impl), r)),
        )([x, dy]);
      const [gf, gc] = [grads('fused'), grads('composite')];
      expect(testing.relativeError(gf[0]!.dataSync(), gc[0]!.dataSync())).toBeLessThan(1e-5);
      expect(testing.relativeError(gf[1]!.dataSync(), gc[1]!.dataSync())).toBeLessThan(1e-5);
      tf.dispose([x, dy, composite, fused, fallback, r, ...gf, ...gc]);
    });
  });

  describe('direct forward kernel (WebAssembly SIMD and TypeScript fallback) = tfjs composite', () => {
    const plans: [string, number[], number[], Plan][] = [
      [
        'd=2 s=1 same, 64→64',
        [1, 9, 10, 64],
        [3, 3, 64, 64],
        {
          stride: [1, 1],
          dilation: [2, 2],
          pads: [
            [2, 2],
            [2, 2],
          ],
        },
      ],
      [
        'd=(2,3) s=2, 3→5, batch 2 (tfjs needs a workaround)',
        [2, 13, 12, 3],
        [3, 3, 3, 5],
        {
          stride: [2, 2],
          dilation: [2, 3],
          pads: [
            [1, 0],
            [3, 2],
          ],
        },
      ],
      [
        'd=3 s=(1,3), 5→9, kernel 2×4',
        [2, 11, 17, 5],
        [2, 4, 5, 9],
        {
          stride: [1, 3],
          dilation: [3, 1],
          pads: [
            [0, 0],
            [0, 4],
          ],
        },
      ],
      [
        'd=3 s=2 (subsampled strategy in tfjs), 2→16, width not a multiple of 4',
        [1, 15, 14, 2],
        [3, 3, 2, 16],
        {
          stride: [2, 2],
          dilation: [3, 3],
          pads: [
            [3, 3],
            [3, 3],
          ],
        },
      ],
      [
        '1×1, stride 3, padding beyond what is read',
        [1, 5, 5, 2],
        [1, 1, 2, 3],
        {
          stride: [3, 3],
          dilation: [1, 1],
          pads: [
            [4, 1],
            [2, 5],
          ],
        },
      ],
    ];
    it.each(plans)('%s', (_, xShape, wShape, plan) => {
      const x = tf.tensor4d(
        createRng(4).normalData(xShape.reduce((a, b) => a * b, 1)),
        xShape as [number, number, number, number],
      ) as tf.Tensor4D;
      const w = tf.tensor4d(
        createRng(5).normalData(wShape.reduce((a, b) => a * b, 1)),
        wShape as [number, number, number, number],
      ) as tf.Tensor4D;
      const ref = referenceConv(asArr(x), asArr(w), {
        stride: [plan.stride[0], plan.stride[1]],
        dilation: [plan.dilation[0], plan.dilation[1]],
        pads: [
          [plan.pads[0][0], plan.pads[0][1]],
          [plan.pads[1][0], plan.pads[1][1]],
        ],
      });
      const composite = forwardConv(x, w, plan, false, 'composite');
      const fused = forwardConv(x, w, plan, false, 'fused');
      setForceKernelFallback(true);
      const fallback = forwardConv(x, w, plan, false, 'fused');
      setForceKernelFallback(false);
      for (const t of [composite, fused, fallback]) {
        expect(t.shape).toEqual(ref.shape);
        expect(testing.relativeError(t.dataSync(), ref.data)).toBeLessThan(1e-5);
      }
      tf.dispose([x, w, composite, fused, fallback]);
    });
  });

  describe('dilatedDepthwiseConv2d', () => {
    const rng = createRng(21);
    const x = tf.tensor(rng.normalData(2 * 10 * 9 * 3), [2, 10, 9, 3]);
    const configs: Config[] = [
      { dilation: [2, 2], stride: [1, 1], padding: 'same' },
      { dilation: [3, 2], stride: [2, 2], padding: 'valid' },
      { dilation: [2, 3], stride: [2, 1], padding: 'same' },
      { dilation: [1, 1], stride: [1, 1], padding: 1 },
    ];
    it.each(configs.flatMap((c) => [1, 2].map((m) => [`${label(c)} multiplier ${m}`, c, m] as const)))(
      'forward and gradients equal the float64 reference (%s)',
      (_, c, m) => {
        const w = tf.tensor(createRng(m).normalData(3 * 3 * 3 * m), [3, 3, 3, m]);
        const geometry = refGeometry(x.shape, [3, 3], c.dilation, c.stride, c.padding);
        const ref = referenceConv(asArr(x), asArr(w), geometry, true);
        for (const impl of ['auto', 'composite'] as const) {
          const y = dilatedDepthwiseConv2d(x, w, { ...c, impl });
          expect(y.shape).toEqual(ref.shape);
          expect(testing.relativeError(y.dataSync(), ref.data)).toBeLessThan(1e-5);
          y.dispose();
        }
        const dy = tf.tensor(createRng(4).normalData(ref.data.length), ref.shape);
        const [dx, dw] = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
          tf.sum(tf.mul(dilatedDepthwiseConv2d(a, b, c), dy)),
        )([x, w]);
        const grads = referenceGrads(asArr(x), asArr(w), dy.dataSync(), geometry, true);
        expect(testing.relativeError(dx!.dataSync(), grads.dx)).toBeLessThan(1e-5);
        expect(testing.relativeError(dw!.dataSync(), grads.dw)).toBeLessThan(1e-5);
        const worst = testing.gradientCheck((a, b) => dilatedDepthwiseConv2d(a!, b!, c), [x, w], {
          samples: 6,
        });
        expect(worst).toBeLessThan(2e-3);
        // the filter-gradient kernel (SIMD and fallback) equals its composite and the float64 reference
        const plan: Plan = { stride: geometry.stride, dilation: geometry.dilation, pads: geometry.pads };
        const paths = [
          depthwiseFilterGradient(dy as tf.Tensor4D, x as tf.Tensor4D, w.shape, plan, 'composite'),
          depthwiseFilterGradient(dy as tf.Tensor4D, x as tf.Tensor4D, w.shape, plan, 'fused'),
        ];
        setForceKernelFallback(true);
        paths.push(depthwiseFilterGradient(dy as tf.Tensor4D, x as tf.Tensor4D, w.shape, plan, 'fused'));
        setForceKernelFallback(false);
        for (const p of paths) expect(testing.relativeError(p.dataSync(), grads.dw)).toBeLessThan(1e-5);
        tf.dispose(paths);
        tf.dispose([w, dy, dx!, dw!]);
      },
    );
  });

  describe('1-D', () => {
    const x = tf.tensor(createRng(31).normalData(2 * 17 * 3), [2, 17, 3]);
    const w = tf.tensor(createRng(32).normalData(3 * 3 * 4), [3, 3, 4]);
    it.each([
      [3, 1, 'same'],
      [2, 2, 'valid'],
      [4, 3, 2],
    ] as const)(
      'dilatedConv1d d=%i s=%i padding=%s: forward and gradients equal the reference',
      (d, s, padding) => {
        const pads: [number, number] =
          padding === 'same' ? samePads(17, 3, d, s) : padding === 'valid' ? [0, 0] : [padding, padding];
        const geometry: RefGeometry = {
          stride: [1, s],
          dilation: [1, d],
          pads: [[0, 0], pads],
        };
        const x4 = { data: Float64Array.from(x.dataSync()), shape: [2, 1, 17, 3] };
        const w4 = { data: Float64Array.from(w.dataSync()), shape: [1, 3, 3, 4] };
        const ref = referenceConv(x4, w4, geometry);
        const y = dilatedConv1d(x, w, { dilation: d, stride: s, padding });
        expect(y.shape).toEqual([2, ref.shape[2], 4]);
        expect(testing.relativeError(y.dataSync(), ref.data)).toBeLessThan(1e-5);
        const dy = tf.tensor(createRng(d).normalData(ref.data.length), y.shape);
        const [dx, dw] = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
          tf.sum(tf.mul(dilatedConv1d(a, b, { dilation: d, stride: s, padding }), dy)),
        )([x, w]);
        const grads = referenceGrads(x4, w4, dy.dataSync(), geometry);
        expect(testing.relativeError(dx!.dataSync(), grads.dx)).toBeLessThan(1e-5);
        expect(testing.relativeError(dw!.dataSync(), grads.dw)).toBeLessThan(1e-5);
        tf.dispose([y, dy, dx!, dw!]);
      },
    );

    it('causalConv1d is causal: output t depends on inputs ≤ t only, exactly at t − j·d', () => {
      const d = 3;
      // Jacobian column by column through the gradient of each output step.
      for (const t of [0, 4, 16]) {
        const g = tf.grad((a: tf.Tensor) =>
          tf.sum(tf.slice(causalConv1d(a, w, { dilation: d }), [0, t, 0], [1, 1, 4])),
        )(x);
        const data = g.dataSync();
        const touched = new Set<number>();
        for (let i = 0; i < 17; i++) {
          let s = 0;
          for (let c = 0; c < 3; c++) s += Math.abs(data[i * 3 + c]!);
          if (s > 0) touched.add(i);
        }
        const expected = [0, 1, 2].map((j) => t - j * d).filter((i) => i >= 0);
        expect([...touched].sort((a, b) => a - b)).toEqual(expected.sort((a, b) => a - b));
        g.dispose();
      }
    });

    it('causalConv1d gradients at dilation 4 equal finite differences', () => {
      const worst = testing.gradientCheck((a, b) => causalConv1d(a!, b!, { dilation: 4 }), [x, w], {
        samples: 10,
      });
      expect(worst).toBeLessThan(2e-3);
    });
  });

  describe('bad input', () => {
    const x = tf.zeros([1, 8, 8, 2]);
    const w = tf.zeros([3, 3, 2, 4]);
    it('names the function and the argument', () => {
      expect(() => dilatedConv2d(tf.zeros([8, 8, 2]), w, { dilation: 2, padding: 'same' })).toThrow(
        /conv\.dilatedConv2d: x must be rank 4 \[batch, height, width, inChannels\], got shape \[8,8,2\]/,
      );
      expect(() => dilatedConv2d(x, tf.zeros([3, 3, 3, 4]), { dilation: 2, padding: 'same' })).toThrow(
        ShapeError,
      );
      expect(() => dilatedConv2d(x, w, { dilation: 0, padding: 'same' })).toThrow(
        /conv\.dilatedConv2d: dilation must be a positive integer or a pair \[h, w\] of positive integers, got 0/,
      );
      expect(() => dilatedConv2d(x, w, { dilation: [2, -1], padding: 'same' })).toThrow(ValueError);
      expect(() => dilatedConv2d(x, w, { dilation: 1.5, padding: 'same' })).toThrow(/dilation/);
      expect(() => dilatedConv2d(x, w, { dilation: 2, stride: 0, padding: 'same' })).toThrow(/stride/);
      expect(() => dilatedConv2d(x, w, { dilation: 2, padding: 'full' as 'same' })).toThrow(/padding/);
      expect(() => dilatedConv2d(x, w, { dilation: 2, padding: -1 })).toThrow(/padding/);
      expect(() => dilatedConv2d(x, w, { dilation: 2 } as never)).toThrow(/padding/);
      expect(() => dilatedConv2d(x, w, { dilation: 2, padding: 'same', dilations: 2 } as never)).toThrow(
        /unknown option "dilations"/,
      );
      expect(() =>
        dilatedConv2d(tf.zeros([1, 8, 8, 2], 'int32'), w, { dilation: 2, padding: 'same' }),
      ).toThrow(/dtype/);
      expect(() => causalConv1d(tf.zeros([1, 8, 2]), tf.zeros([2, 2, 2]), { dilation: -3 })).toThrow(
        /conv\.causalConv1d: dilation must be a positive integer, got -3/,
      );
      expect(() =>
        dilatedDepthwiseConv2d(x, tf.zeros([3, 3, 3, 1]), { dilation: 2, padding: 'same' }),
      ).toThrow(/dilatedDepthwiseConv2d: filter.shape\[2\]/);
    });
    it('rejects a dilated kernel larger than the padded input', () => {
      // 3 taps at dilation 4 span 9 > 8.
      expect(() => dilatedConv2d(x, w, { dilation: 4, padding: 'valid' })).toThrow(
        /dilated kernel is larger than the padded input along height: filter size 3 at dilation 4 spans 9, but x height 8 padded by 0 \+ 0 is 8/,
      );
      expect(() => dilatedConv1d(tf.zeros([1, 5, 2]), tf.zeros([3, 2, 2]), { dilation: 3 })).toThrow(
        /along length/,
      );
      // 'same' always fits, and a padding that makes room is accepted.
      expect(dilatedConv2d(x, w, { dilation: 4, padding: 'same' }).shape).toEqual([1, 8, 8, 4]);
      expect(dilatedConv2d(x, w, { dilation: 4, padding: 1 }).shape).toEqual([1, 2, 2, 4]);
    });
  });
});
