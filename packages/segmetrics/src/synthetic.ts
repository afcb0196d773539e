/**
 * Synthetic street-scene label maps with a degradable prediction, for benchmarks, demos and tests: what a
 * Cityscapes-like validation image looks like to a metric (large coherent regions, an ignored ego-vehicle band,
 * errors concentrated at boundaries plus a few wrong blobs and scattered pixels).
 */
import { assertInteger, assertKnownOptions, assertNumber, assertPositiveInteger } from '@lab/tensor';

export interface SyntheticSceneOptions {
  /** Images in the batch (default 1). */
  batch?: number;
  height: number;
  width: number;
  /** Classes (default 19, as Cityscapes); at least 2 and at most 255. */
  numClasses?: number;
  /** Label of the ignored ego-vehicle band at the bottom (default 255); `null` for no band. */
  ignoreIndex?: number | null;
  /**
   * Degradation of the prediction in [0, 1] (default 0.1): boundary displacement up to 40 · noise pixels,
   * wrong blobs and a fraction noise / 20 of random pixels.
   */
  noise?: number;
  /** Seed of the generator (default 1). */
  seed?: number;
}

export interface SyntheticScene {
  /** Ground truth [batch, height, width], row-major. */
  target: Uint8Array;
  /** Prediction [batch, height, width]: never ignoreIndex. */
  pred: Uint8Array;
  shape: [batch: number, height: number, width: number];
}

/** A small, fast, seeded generator (mulberry32) for scene layout; not for statistics. */
function generator(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function paintRect(
  map: Uint8Array,
  off: number,
  height: number,
  width: number,
  y0: number,
  x0: number,
  h: number,
  w: number,
  value: number,
): void {
  const y1 = Math.min(height, Math.max(0, y0 + h));
  const x1 = Math.min(width, Math.max(0, x0 + w));
  const xs = Math.max(0, x0);
  for (let y = Math.max(0, y0); y < y1; y++) map.fill(value, off + y * width + xs, off + y * width + x1);
}

/**
 * Builds a batch of synthetic scenes: sky / buildings / road bands, rectangles of the other classes (cars,
 * poles, people), an ego-vehicle band labelled ignoreIndex, and a prediction degraded by `noise`.
 */
export function syntheticScene(options: SyntheticSceneOptions): SyntheticScene {
  const fn = 'segmetrics.syntheticScene';
  assertKnownOptions(fn, options, ['batch', 'height', 'width', 'numClasses', 'ignoreIndex', 'noise', 'seed']);
  const { batch = 1, height, width, numClasses = 19, ignoreIndex = 255, noise = 0.1, seed = 1 } = options;
  assertPositiveInteger(fn, 'batch', batch);
  assertPositiveInteger(fn, 'height', height);
  assertPositiveInteger(fn, 'width', width);
  assertInteger(fn, 'numClasses', numClasses, 2, 255);
  if (ignoreIndex !== null) assertInteger(fn, 'ignoreIndex', ignoreIndex, numClasses, 255);
  assertNumber(fn, 'noise', noise, { min: 0, max: 1 });
  assertInteger(fn, 'seed', seed);
  const plane = height * width;
  const target = new Uint8Array(batch * plane);
  const pred = new Uint8Array(batch * plane);
  const random = generator(seed);
  const pick = (k: number) => Math.floor(random() * k);
  for (let b = 0; b < batch; b++) {
    const off = b * plane;
    // Bands: sky, buildings, road (classes 0..2 mod C), with a wavy horizon.
    const horizon = Math.floor(height * (0.3 + 0.1 * random()));
    const roadTop = Math.floor(height * (0.55 + 0.1 * random()));
    const sky = 0;
    const building = 1 % numClasses;
    const road = 2 % numClasses;
    for (let x = 0; x < width; x++) {
      const wave = Math.round(12 * Math.sin((x / width) * 6.283 * 2 + b));
      const h = Math.min(height, Math.max(0, horizon + wave));
      const r = Math.min(height, Math.max(h, roadTop));
      for (let y = 0; y < h; y++) target[off + y * width + x] = sky;
      for (let y = h; y < r; y++) target[off + y * width + x] = building;
      for (let y = r; y < height; y++) target[off + y * width + x] = road;
    }
    // Objects of the remaining classes.
    const objects = 12 + pick(12);
    for (let k = 0; k < objects; k++) {
      const cls = numClasses > 3 ? 3 + pick(numClasses - 3) : pick(numClasses);
      const h = Math.max(2, Math.floor(height * (0.05 + 0.25 * random())));
      const w = Math.max(2, Math.floor(width * (0.02 + 0.15 * random())));
      paintRect(
        target,
        off,
        height,
        width,
        horizon - (h >> 2) + pick(Math.max(1, height - horizon)),
        pick(width),
        h,
        w,
        cls,
      );
    }
    // Prediction: boundaries displaced by a smooth wobble, a few wrong blobs, scattered wrong pixels.
    const amp = 40 * noise;
    const phase = random() * 6.283;
    for (let y = 0; y < height; y++) {
      const dx = Math.round(amp * Math.sin(y / 37 + phase));
      for (let x = 0; x < width; x++) {
        const dy = Math.round(amp * Math.sin(x / 53 + phase));
        const sy = Math.min(height - 1, Math.max(0, y + dy));
        const sx = Math.min(width - 1, Math.max(0, x + dx));
        pred[off + y * width + x] = target[off + sy * width + sx]!;
      }
    }
    const blobs = Math.round(30 * noise);
    for (let k = 0; k < blobs; k++) {
      const h = Math.max(2, Math.floor(height * 0.08 * random()));
      const w = Math.max(2, Math.floor(width * 0.08 * random()));
      paintRect(pred, off, height, width, pick(height), pick(width), h, w, pick(numClasses));
    }
    const scattered = Math.round((plane * noise) / 20);
    for (let k = 0; k < scattered; k++) pred[off + pick(plane)] = pick(numClasses);
    // Ego vehicle: ignored in the target (the prediction, made before, still says something there).
    if (ignoreIndex !== null) target.fill(ignoreIndex, off + Math.floor(height * 0.9) * width, off + plane);
  }
  return { target, pred, shape: [batch, height, width] };
}
