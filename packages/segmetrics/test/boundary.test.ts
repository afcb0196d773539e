// Boundary IoU (Cheng et al. 2021) against a literal port of the reference's mask_to_boundary: a 1-pixel zero
// border, d erosions with a 3 × 3 kernel, band = mask − eroded mask.
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@lab/tensor';
import { boundaryBand, boundaryBandFallback, boundaryIoU, boundaryWidth } from '../src/index.js';

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

/** mask_to_boundary of the reference, step by step (slow, obvious). */
function referenceBand(mask: Uint8Array, h: number, w: number, d: number): Uint8Array {
  let cur = new Uint8Array((h + 2) * (w + 2));
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) cur[(y + 1) * (w + 2) + x + 1] = mask[y * w + x]!;
  for (let it = 0; it < d; it++) {
    const next = new Uint8Array(cur.length);
    for (let y = 0; y < h + 2; y++) {
      for (let x = 0; x < w + 2; x++) {
        let v = 1;
        for (let dy = -1; dy <= 1; dy++) {
          for (let dx = -1; dx <= 1; dx++) {
            const yy = y + dy;
            const xx = x + dx;
            // cv2.erode's default border value is +inf: outside the padded image does not erode.
            if (yy < 0 || xx < 0 || yy >= h + 2 || xx >= w + 2) continue;
            v &= cur[yy * (w + 2) + xx]!;
          }
        }
        next[y * (w + 2) + x] = v;
      }
    }
    cur = next;
  }
  const band = new Uint8Array(h * w);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) band[y * w + x] = mask[y * w + x]! & (1 - cur[(y + 1) * (w + 2) + x + 1]!);
  return band;
}

/** Random blocky label map with `C` classes. */
function blocky(h: number, w: number, C: number, seed: number): Int32Array {
  const r = lcg(seed);
  const out = new Int32Array(h * w);
  for (let k = 0; k < 12; k++) {
    const y0 = Math.floor(r() * h);
    const x0 = Math.floor(r() * w);
    const bh = 1 + Math.floor(r() * h * 0.6);
    const bw = 1 + Math.floor(r() * w * 0.6);
    const c = Math.floor(r() * C);
    for (let y = y0; y < Math.min(h, y0 + bh); y++)
      for (let x = x0; x < Math.min(w, x0 + bw); x++) out[y * w + x] = c;
  }
  return out;
}

describe.each(['cpu', 'wasm'] as const)('%s', (backend) => {
  beforeAll(async () => {
    await initBackend(backend);
  });

  it.each([
    [1, 17, 23],
    [2, 30, 41],
    [3, 25, 25],
    [5, 12, 40],
  ])(
    'band of width d = %i on %i × %i maps equals the reference erosion for every class (kernel, fallback, all kinds)',
    (d, h, w) => {
      const labels = blocky(h, w, 4, d * 100 + h);
      // A second image after the first checks the offset.
      const two = new Int32Array(2 * h * w);
      two.set(blocky(h, w, 4, 7), 0);
      two.set(labels, h * w);
      const bands = [
        boundaryBand(labels, 0, h, w, d),
        boundaryBand(Uint8Array.from(labels), 0, h, w, d),
        boundaryBand(Uint16Array.from(labels), 0, h, w, d),
        boundaryBand(Float32Array.from(labels), 0, h, w, d),
        boundaryBand(Array.from(labels), 0, h, w, d),
        boundaryBand(two, h * w, h, w, d),
        boundaryBand(Uint8Array.from(two), h * w, h, w, d),
        boundaryBandFallback(labels, 0, h, w, d),
      ];
      for (let c = 0; c < 4; c++) {
        const mask = Uint8Array.from(labels, (v) => (v === c ? 1 : 0));
        const ref = Array.from(referenceBand(mask, h, w, d));
        for (const band of bands) expect(Array.from(band, (b, i) => b & mask[i]!)).toEqual(ref);
      }
    },
  );

  it('d = max(1, round(0.02 · diagonal)), as the paper', () => {
    expect(boundaryWidth(1024, 2048)).toBe(Math.round(0.02 * Math.hypot(1024, 2048)));
    expect(boundaryWidth(10, 10)).toBe(1);
    expect(boundaryWidth(10, 10, { dilation: 4 })).toBe(4);
  });

  it('boundary IoU by hand-free reference: intersections and unions of reference bands', () => {
    const h = 33;
    const w = 47;
    const C = 3;
    const t = blocky(h, w, C, 1);
    const p = blocky(h, w, C, 2);
    const d = boundaryWidth(h, w);
    const result = boundaryIoU(p, t, { numClasses: C, shape: [h, w] });
    for (let c = 0; c < C; c++) {
      const gt = referenceBand(
        Uint8Array.from(t, (v) => (v === c ? 1 : 0)),
        h,
        w,
        d,
      );
      const pr = referenceBand(
        Uint8Array.from(p, (v) => (v === c ? 1 : 0)),
        h,
        w,
        d,
      );
      let inter = 0;
      let union = 0;
      for (let i = 0; i < h * w; i++) {
        inter += gt[i]! & pr[i]!;
        union += gt[i]! | pr[i]!;
      }
      expect(result.intersection[c]).toBe(inter);
      expect(result.union[c]).toBe(union);
      expect(result.iou[c]).toBe(union > 0 ? inter / union : Number.NaN);
    }
  });
});
