/**
 * Plain float64 loop references for the tests: the definition of a dilated convolution, written out, and its
 * gradients by the chain rule (each output's contribution scattered back to the input and filter).
 */
export interface RefGeometry {
  stride: [number, number];
  dilation: [number, number];
  /** [[top, bottom], [left, right]] */
  pads: [[number, number], [number, number]];
}

export interface Arr {
  data: Float64Array;
  shape: number[];
}

/** Output size along one axis. */
export function outSize(
  size: number,
  k: number,
  d: number,
  s: number,
  before: number,
  after: number,
): number {
  return Math.floor((size + before + after - ((k - 1) * d + 1)) / s) + 1;
}

/** TensorFlow 'same' pads along one axis. */
export function samePads(size: number, k: number, d: number, s: number): [number, number] {
  const out = Math.ceil(size / s);
  const total = Math.max((out - 1) * s + (k - 1) * d + 1 - size, 0);
  return [Math.floor(total / 2), total - Math.floor(total / 2)];
}

/**
 * Visits every (output, input, filter) triple of a convolution: regular when `depthwise` is false (filter
 * [kh, kw, cin, cout]), depthwise otherwise (filter [kh, kw, cin, m], output channel c·m + q).
 */
function visit(
  xShape: number[],
  wShape: number[],
  g: RefGeometry,
  depthwise: boolean,
  f: (yi: number, xi: number, wi: number) => void,
): number[] {
  const [n, h, w, c] = xShape as [number, number, number, number];
  const [kh, kw, , o] = wShape as [number, number, number, number];
  const oh = outSize(h, kh, g.dilation[0], g.stride[0], g.pads[0][0], g.pads[0][1]);
  const ow = outSize(w, kw, g.dilation[1], g.stride[1], g.pads[1][0], g.pads[1][1]);
  const oc = depthwise ? c * o : o;
  for (let b = 0; b < n; b++)
    for (let i = 0; i < oh; i++)
      for (let j = 0; j < ow; j++)
        for (let a = 0; a < kh; a++)
          for (let e = 0; e < kw; e++) {
            const r = i * g.stride[0] + a * g.dilation[0] - g.pads[0][0];
            const q = j * g.stride[1] + e * g.dilation[1] - g.pads[1][0];
            if (r < 0 || r >= h || q < 0 || q >= w) continue;
            for (let ci = 0; ci < c; ci++) {
              const xi = ((b * h + r) * w + q) * c + ci;
              if (depthwise) {
                for (let m = 0; m < o; m++) {
                  f(((b * oh + i) * ow + j) * oc + ci * o + m, xi, ((a * kw + e) * c + ci) * o + m);
                }
              } else {
                for (let co = 0; co < o; co++) {
                  f(((b * oh + i) * ow + j) * oc + co, xi, ((a * kw + e) * c + ci) * o + co);
                }
              }
            }
          }
  return [n, oh, ow, oc];
}

export function referenceConv(x: Arr, w: Arr, g: RefGeometry, depthwise = false): Arr {
  const shape = visit(x.shape, w.shape, g, depthwise, () => {});
  const y = new Float64Array(shape.reduce((p, v) => p * v, 1));
  visit(x.shape, w.shape, g, depthwise, (yi, xi, wi) => {
    y[yi]! += x.data[xi]! * w.data[wi]!;
  });
  return { data: y, shape };
}

export function referenceGrads(x: Arr, w: Arr, dy: ArrayLike<number>, g: RefGeometry, depthwise = false) {
  const dx = new Float64Array(x.data.length);
  const dw = new Float64Array(w.data.length);
  visit(x.shape, w.shape, g, depthwise, (yi, xi, wi) => {
    dx[xi]! += dy[yi]! * w.data[wi]!;
    dw[wi]! += dy[yi]! * x.data[xi]!;
  });
  return { dx, dw };
}
