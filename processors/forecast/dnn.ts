import type * as TF from '@tensorflow/tfjs';
import { weekSpread } from './gbdt.js';
import { dayMean, dayTypeWidth, learSettings, rawFeatures, writeDayType } from './lear.js';
import type { HolidayCalendar } from './holidays.js';
import type { DayAheadModel, DayInput } from './model.js';
import { fitTransform, type FittedTransform } from './transforms.js';

/** DNN settings. */
export interface DnnOptions {
  /** Training window in days (default 364; fewer when the history is shorter). */
  window?: number;
  /** Price lags (default 1, 2, 3, 7), as LEAR. */
  lags?: number[];
  /** Hidden layer widths (default [64]). */
  hidden?: number[];
  /** Most full-batch Adam steps (default 1500). */
  maxSteps?: number;
  /** Days at the end of the window held out to pick the number of steps (default 42). */
  validationDays?: number;
  /** Validation checks without improvement before stopping (default 8; a check every 20 steps). */
  patience?: number;
  /** Retrain after this many new days (default 7); in between, the latest networks forecast each day. */
  retrainEvery?: number;
  /** Adam learning rate (default 3e-3). */
  learningRate?: number;
  /** L1 penalty on the first layer's weights (default 1e-4): input selection, as LEAR's LASSO. */
  l1?: number;
  /** Seeds of the networks averaged (default [1, 2, 3]). */
  seeds?: number[];
  /**
   * Price level the network works relative to: `none` (default) or `d1`, where every price input and the
   * target are taken relative to the mean price of day d-1 (itself an input), as LEAR's `level: 'd1'`.
   * A level the window never saw (a cold snap) then shifts the forecast instead of pushing the network
   * outside the inputs it was trained on.
   */
  level?: 'none' | 'd1';
  /**
   * Clips every standardised input of a forecast to the range the training rows spanned, widened by this
   * share of that range on each side (default: no clipping). Keeps the network from extrapolating its
   * piecewise-linear fit far beyond the data on days unlike any in the window.
   */
  inputClip?: number;
  /**
   * Target: `price` (default, absolute or relative to the d-1 mean as `level` says) or `scaled`, where the price
   * inputs and the target are differences from the d-1 mean divided by the week's intraday spread (`weekSpread`,
   * as `gbdtModel`'s `target: 'scaled'`; the d-1 level input stays in price units), so the network learns
   * shapes in units of recent volatility and a forecast's swing grows with the week's. Implies `level: 'd1'`.
   */
  target?: 'price' | 'scaled';
}

type Tf = typeof TF;
let tfLoaded: Promise<Tf> | undefined;

/**
 * Loads TensorFlow.js with the wasm backend once (falls back to the pure-JS cpu backend if wasm cannot
 * load). Loaded lazily, so importing the forecast package does not pay for it.
 */
export function tfReady(): Promise<Tf> {
  tfLoaded ??= (async () => {
    const tf = await import('@tensorflow/tfjs');
    await import('@tensorflow/tfjs-backend-wasm');
    try {
      if (!(await tf.setBackend('wasm'))) await tf.setBackend('cpu');
    } catch {
      await tf.setBackend('cpu');
    }
    await tf.ready();
    return tf;
  })();
  return tfLoaded;
}

/** Mulberry32: a small seeded PRNG for weight initialisation. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Glorot-uniform weights from a seeded PRNG (reproducible, independent of tfjs's own RNG). */
function glorot(random: () => number, fanIn: number, fanOut: number): Float32Array {
  const limit = Math.sqrt(6 / (fanIn + fanOut));
  return Float32Array.from({ length: fanIn * fanOut }, () => (2 * random() - 1) * limit);
}

/** Weights of one trained network, as plain arrays (shapes follow `sizes`). */
interface Net {
  sizes: number[];
  weights: Float32Array[];
  biases: Float32Array[];
}

/** The per-window scaling fitted before training and reused for the forecasts in between. */
interface Scaling {
  x: FittedTransform[];
  mean: Float64Array;
  std: Float64Array;
  /** Bounds of each standardised input column (with `inputClip`; ±Infinity otherwise). */
  lo: Float64Array;
  hi: Float64Array;
  y: FittedTransform[];
}

/**
 * Trains one MLP (ReLU hidden layers, linear output of all intervals of the day) with MAE loss by
 * full-batch Adam: first on the window without its last `validationDays` to find the step count with the
 * lowest validation MAE (checked every 20 steps, early stop after `patience` checks), then from the same
 * initial weights on the whole window for that many steps.
 */
function trainNet(
  tf: Tf,
  x: Float32Array,
  y: Float32Array,
  n: number,
  p: number,
  out: number,
  opts: Required<Pick<DnnOptions, 'hidden' | 'maxSteps' | 'validationDays' | 'patience' | 'learningRate' | 'l1'>>,
  seed: number,
): Net {
  const sizes = [p, ...opts.hidden, out];
  const random = prng(seed);
  const init: Net = { sizes, weights: [], biases: [] };
  for (let l = 0; l + 1 < sizes.length; l++) {
    init.weights.push(glorot(random, sizes[l], sizes[l + 1]));
    init.biases.push(new Float32Array(sizes[l + 1]));
  }
  const every = 20;

  const run = (rows: number, steps: number, validate: boolean): { net: Net; bestStep: number } => {
    const vars = init.weights.flatMap((w, l) => [
      tf.variable(tf.tensor2d(w, [sizes[l], sizes[l + 1]])),
      tf.variable(tf.tensor1d(init.biases[l])),
    ]);
    const optimizer = tf.train.adam(opts.learningRate);
    const forward = (input: TF.Tensor2D): TF.Tensor2D => {
      let h: TF.Tensor2D = input;
      for (let l = 0; l < vars.length / 2; l++) {
        h = tf.add(tf.matMul(h, vars[2 * l] as TF.Tensor2D), vars[2 * l + 1]) as TF.Tensor2D;
        if (l + 1 < vars.length / 2) h = tf.relu(h);
      }
      return h;
    };
    const nv = validate ? Math.min(opts.validationDays, Math.floor(rows / 4)) : 0;
    const nt = rows - nv;
    const xt = tf.tensor2d(x.subarray(0, nt * p), [nt, p]);
    const yt = tf.tensor2d(y.subarray(0, nt * out), [nt, out]);
    const xv = nv > 0 ? tf.tensor2d(x.subarray(nt * p, rows * p), [nv, p]) : undefined;
    const yv = nv > 0 ? tf.tensor2d(y.subarray(nt * out, rows * out), [nv, out]) : undefined;
    let best = Infinity;
    let bestStep = steps;
    let stale = 0;
    for (let step = 1; step <= steps; step++) {
      optimizer.minimize(
        () => {
          const mae = tf.mean(tf.abs(tf.sub(forward(xt), yt)));
          return opts.l1 > 0
            ? (tf.add(mae, tf.mul(opts.l1, tf.sum(tf.abs(vars[0])))) as TF.Scalar)
            : (mae as TF.Scalar);
        },
        false,
        vars,
      );
      if (xv && yv && step % every === 0) {
        const v = tf.tidy(() => tf.mean(tf.abs(tf.sub(forward(xv), yv))).dataSync()[0]);
        if (v < best - 1e-5) {
          best = v;
          bestStep = step;
          stale = 0;
        } else if (++stale >= opts.patience) break;
      }
    }
    const net: Net = { sizes, weights: [], biases: [] };
    for (let l = 0; l < vars.length / 2; l++) {
      net.weights.push(vars[2 * l].dataSync() as Float32Array);
      net.biases.push(vars[2 * l + 1].dataSync() as Float32Array);
    }
    for (const t of [...vars, xt, yt, xv, yv]) t?.dispose();
    optimizer.dispose();
    return { net, bestStep };
  };

  const { bestStep } = run(n, opts.maxSteps, true);
  return run(n, bestStep, false).net;
}

/** Forward pass of a trained network on one feature row, in plain JS. */
function predict(net: Net, row: Float32Array): Float64Array {
  let h = Float64Array.from(row);
  for (let l = 0; l < net.weights.length; l++) {
    const inN = net.sizes[l];
    const outN = net.sizes[l + 1];
    const w = net.weights[l];
    const next = Float64Array.from(net.biases[l]);
    for (let i = 0; i < inN; i++) {
      const v = h[i];
      if (v === 0) continue;
      for (let j = 0; j < outN; j++) next[j] += v * w[i * outN + j];
    }
    if (l + 1 < net.weights.length) for (let j = 0; j < outN; j++) next[j] = Math.max(0, next[j]);
    h = next;
  }
  return h;
}

/**
 * A feed-forward network forecasting all intervals of day d jointly from the LEAR inputs (lagged price
 * profiles, d-1 min/max/mean, exogenous series when given; asinh of median/MAD, then standardised per
 * column over the window) plus day-of-week, trained with MAE loss on the last `window` days.
 * Retrained every `retrainEvery` days; several seeded networks are averaged (reproducible).
 */
export function dnnModel(opts: DnnOptions = {}, name = 'dnn'): DayAheadModel {
  const scaled = opts.target === 'scaled';
  const s = learSettings({ lags: opts.lags, extras: true, level: scaled ? 'd1' : opts.level });
  const relative = s.relative;
  // Price columns of `rawFeatures` (lagged profiles, d-1 min and max, all relative to the d-1 mean); the d-1
  // level and the exogenous series follow and stay unscaled.
  const priceCols = (perDay: number) => s.lags.length * perDay + 2;
  /** Divisor of day `day`'s price inputs and target: the week's spread with `scaled`, else 1. */
  const scaleOf = (history: Float64Array, perDay: number, day: number): number =>
    scaled ? weekSpread(history, perDay, day, dayMean(history, perDay, day - 1)) : 1;
  const divide = (raw: Float64Array, r: number, cols: number, perDay: number, scale: number): void => {
    if (scale === 1) return;
    const end = r * cols + priceCols(perDay);
    for (let j = r * cols; j < end; j++) raw[j] /= scale;
  };
  const window = opts.window ?? 364;
  const retrainEvery = opts.retrainEvery ?? 7;
  const seeds = opts.seeds ?? [1, 2, 3];
  const train = {
    hidden: opts.hidden ?? [64],
    maxSteps: opts.maxSteps ?? 1500,
    validationDays: opts.validationDays ?? 42,
    patience: opts.patience ?? 8,
    learningRate: opts.learningRate ?? 3e-3,
    l1: opts.l1 ?? 1e-4,
  };
  let nets: Net[] = [];
  let scaling: Scaling | undefined;
  let trainedFor = Number.NEGATIVE_INFINITY; // target day (epoch days) of the last training
  let exogKey = '';

  const featureRow = (
    raw: Float64Array,
    r: number,
    cols: number,
    date: string,
    sc: Scaling,
    out: Float32Array,
    offset: number,
    calendar: HolidayCalendar | undefined,
  ): void => {
    for (let j = 0; j < cols; j++) {
      const z = (sc.x[j].forward(raw[r * cols + j]) - sc.mean[j]) / sc.std[j];
      out[offset + j] = Math.min(sc.hi[j], Math.max(sc.lo[j], z));
    }
    for (let k = 0; k < 7; k++) out[offset + cols + k] = 0;
    writeDayType(out, offset + cols, date, calendar);
  };

  const fit = async (input: DayInput, t: number): Promise<void> => {
    const tf = await tfReady();
    const { history, historyDays, perDay } = input;
    const first = Math.max(s.maxLag, t - window);
    const n = t - first;
    const { raw, cols } = rawFeatures(input, s, first, t);
    const scales = Float64Array.from({ length: n }, (_, r) => scaleOf(history, perDay, first + r));
    for (let r = 0; r < n; r++) divide(raw, r, cols, perDay, scales[r]);
    const column = new Float64Array(n);
    const sc: Scaling = {
      x: [],
      mean: new Float64Array(cols),
      std: new Float64Array(cols),
      lo: new Float64Array(cols).fill(Number.NEGATIVE_INFINITY),
      hi: new Float64Array(cols).fill(Number.POSITIVE_INFINITY),
      y: [],
    };
    for (let j = 0; j < cols; j++) {
      for (let r = 0; r < n; r++) column[r] = raw[r * cols + j];
      const f = fitTransform('asinh', column);
      sc.x.push(f);
      let sum = 0;
      let sq = 0;
      for (let r = 0; r < n; r++) {
        const v = f.forward(column[r]);
        sum += v;
        sq += v * v;
      }
      sc.mean[j] = sum / n;
      sc.std[j] = Math.sqrt(Math.max(sq / n - sc.mean[j] ** 2, 0)) || 1;
      if (opts.inputClip !== undefined) {
        let lo = Infinity;
        let hi = -Infinity;
        for (let r = 0; r < n; r++) {
          const z = (f.forward(column[r]) - sc.mean[j]) / sc.std[j];
          lo = Math.min(lo, z);
          hi = Math.max(hi, z);
        }
        sc.lo[j] = lo - opts.inputClip * (hi - lo);
        sc.hi[j] = hi + opts.inputClip * (hi - lo);
      }
    }
    const p = cols + dayTypeWidth(input.holidays);
    const x = new Float32Array(n * p);
    for (let r = 0; r < n; r++) featureRow(raw, r, cols, historyDays[first + r], sc, x, r * p, input.holidays);
    const y = new Float32Array(n * perDay);
    for (let h = 0; h < perDay; h++) {
      for (let r = 0; r < n; r++) {
        const base = relative ? dayMean(history, perDay, first + r - 1) : 0;
        column[r] = (history[(first + r) * perDay + h] - base) / scales[r];
      }
      const f = fitTransform('asinh', column);
      sc.y.push(f);
      for (let r = 0; r < n; r++) y[r * perDay + h] = f.forward(column[r]);
    }
    nets = seeds.map((seed) => trainNet(tf, x, y, n, p, perDay, train, seed));
    scaling = sc;
  };

  return {
    name,
    minHistoryDays: s.maxLag + 56,
    async forecastDay(input: DayInput): Promise<number[]> {
      const { history, perDay, targetDate } = input;
      const t = history.length / perDay;
      // Inputs with other exogenous series or another calendar need a network of another width.
      const key = `${Object.keys(input.exog ?? {}).join(',')}|${input.holidays?.code ?? ''}`;
      // Scheduled by the calendar, not by the history length (a streaming caller caps the history).
      const day = Date.parse(`${targetDate}T00:00:00Z`) / 86_400_000;
      if (day - trainedFor >= retrainEvery || day < trainedFor || key !== exogKey) {
        exogKey = key;
        await fit(input, t);
        trainedFor = day;
      }
      const { raw, cols } = rawFeatures(input, s, t, t + 1);
      const scale = scaleOf(history, perDay, t);
      divide(raw, 0, cols, perDay, scale);
      const row = new Float32Array(cols + dayTypeWidth(input.holidays));
      featureRow(raw, 0, cols, targetDate, scaling!, row, 0, input.holidays);
      const base = relative ? dayMean(history, perDay, t - 1) : 0;
      const sum = new Array<number>(perDay).fill(base);
      for (const net of nets) {
        const z = predict(net, row);
        for (let h = 0; h < perDay; h++) sum[h] += (scale * scaling!.y[h].inverse(z[h])) / nets.length;
      }
      return sum;
    },
  };
}
