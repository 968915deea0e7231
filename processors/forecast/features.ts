import { dayOfWeek } from './table.js';

/** Robust location/scale: median and normal-consistent MAD (1 when the data has no spread). */
export function medianMad(values: ArrayLike<number>): [number, number] {
  const sorted = Float64Array.from(values).sort();
  const med = medianOfSorted(sorted);
  for (let i = 0; i < sorted.length; i++) sorted[i] = Math.abs(sorted[i] - med);
  sorted.sort();
  const mad = 1.4826 * medianOfSorted(sorted);
  return [med, mad > 1e-9 ? mad : 1];
}

function medianOfSorted(s: Float64Array): number {
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Variance-stabilising transform of Uniejewski et al.: asinh of the median/MAD-normalised value. */
export function asinhScale(v: number, med: number, mad: number): number {
  return Math.asinh((v - med) / mad);
}

/** Inverse of asinhScale. */
export function asinhUnscale(z: number, med: number, mad: number): number {
  return Math.sinh(z) * mad + med;
}

/**
 * Raw lagged-price features of days `from`..`to-1` (rows) from a day-major price array: for every lag,
 * the whole price profile of day d-lag. Row-major, `lags.length * perDay` columns.
 */
export function lagMatrix(
  prices: ArrayLike<number>,
  perDay: number,
  from: number,
  to: number,
  lags: number[],
): Float64Array {
  const width = lags.length * perDay;
  const out = new Float64Array((to - from) * width);
  let k = 0;
  for (let day = from; day < to; day++) {
    for (const lag of lags) {
      const start = (day - lag) * perDay;
      for (let h = 0; h < perDay; h++) out[k++] = prices[start + h];
    }
  }
  return out;
}

/** Per-column median/MAD of a row-major matrix. */
export function columnStats(m: Float64Array, rows: number, cols: number): { med: Float64Array; mad: Float64Array } {
  const med = new Float64Array(cols);
  const mad = new Float64Array(cols);
  const col = new Float64Array(rows);
  for (let j = 0; j < cols; j++) {
    for (let r = 0; r < rows; r++) col[r] = m[r * cols + j];
    [med[j], mad[j]] = medianMad(col);
  }
  return { med, mad };
}

/** One-hot day of week (Monday first) written at `offset` of `row`. */
export function writeDayOfWeek(row: Float64Array | Float32Array, offset: number, date: string): void {
  for (let k = 0; k < 7; k++) row[offset + k] = 0;
  row[offset + dayOfWeek(date)] = 1;
}
