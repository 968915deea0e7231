import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { asinhScale, asinhUnscale, columnStats, lagMatrix, writeDayOfWeek } from './features.js';
import type { DayAheadModel, DayInput } from './model.js';

/** DNN settings (defaults keep it small: one training takes a few seconds on one core). */
export interface DnnOptions {
  /** Training window in days (default 364; fewer when the history is shorter). */
  window?: number;
  lags?: number[];
  /** Hidden layer widths (default [64]). */
  hidden?: number[];
  /** Epochs of the first training (default 200) and of each weekly warm-started retraining (default 80). */
  epochs?: number;
  retrainEpochs?: number;
  /** Retrain after this many new days (default 7); in between, the latest weights forecast each day. */
  retrainEvery?: number;
  /** Adam learning rate (default 5e-3). */
  learningRate?: number;
  /** L2 penalty on the weights (default 1e-4). */
  l2?: number;
  /** Seed of the weight initialisation and minibatch order. */
  seed?: number;
}

let backendReady: Promise<void> | undefined;

/** Selects the wasm backend once (falls back to the pure-JS cpu backend if wasm cannot load). */
export function tfReady(): Promise<void> {
  backendReady ??= (async () => {
    try {
      if (!(await tf.setBackend('wasm'))) await tf.setBackend('cpu');
    } catch {
      await tf.setBackend('cpu');
    }
    await tf.ready();
  })();
  return backendReady;
}

/** Mulberry32: a small seeded PRNG for the minibatch order. */
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

/**
 * A feed-forward network forecasting all intervals of day d jointly from the LEAR features (asinh of the
 * median/MAD-normalised lagged price profiles plus day-of-week), trained with MAE loss on the last
 * `window` days. Retrained (warm start) every `retrainEvery` days; seeded, so runs are reproducible.
 */
export function dnnModel(opts: DnnOptions = {}, name = 'dnn'): DayAheadModel {
  const lags = opts.lags ?? [1, 2, 3, 7];
  const maxLag = Math.max(...lags);
  const window = opts.window ?? 364;
  const retrainEvery = opts.retrainEvery ?? 7;
  const seed = opts.seed ?? 42;
  const random = prng(seed);
  let net: tf.Sequential | undefined;
  let trainedAt = -Infinity;
  let xStats: { med: Float64Array; mad: Float64Array } | undefined;
  let yStats: { med: Float64Array; mad: Float64Array } | undefined;

  const build = (p: number, perDay: number): tf.Sequential => {
    const layers: tf.layers.Layer[] = [];
    (opts.hidden ?? [64]).forEach((units, i) =>
      layers.push(
        tf.layers.dense({
          ...(i === 0 ? { inputShape: [p] } : {}),
          units,
          activation: 'relu',
          kernelInitializer: tf.initializers.glorotUniform({ seed: seed + i }),
          kernelRegularizer: tf.regularizers.l2({ l2: opts.l2 ?? 1e-4 }),
        }),
      ),
    );
    layers.push(tf.layers.dense({ units: perDay, kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 100 }) }));
    const m = tf.sequential({ layers });
    m.compile({ optimizer: tf.train.adam(opts.learningRate ?? 5e-3), loss: 'meanAbsoluteError' });
    return m;
  };

  const features = (raw: Float64Array, rows: number, nPrice: number, dates: string[]): Float32Array => {
    const p = nPrice + 7;
    const out = new Float32Array(rows * p);
    for (let r = 0; r < rows; r++) {
      for (let j = 0; j < nPrice; j++) out[r * p + j] = asinhScale(raw[r * nPrice + j], xStats!.med[j], xStats!.mad[j]);
      writeDayOfWeek(out, r * p + nPrice, dates[r]);
    }
    return out;
  };

  const train = async (input: DayInput, t: number): Promise<void> => {
    const { history, historyDays, perDay } = input;
    const first = Math.max(maxLag, t - window);
    const n = t - first;
    const nPrice = lags.length * perDay;
    const raw = lagMatrix(history, perDay, first, t, lags);
    xStats = columnStats(raw, n, nPrice);
    const yRaw = history.subarray(first * perDay, t * perDay);
    yStats = columnStats(yRaw, n, perDay);
    const x = features(raw, n, nPrice, historyDays.slice(first, t));
    const y = new Float32Array(n * perDay);
    for (let i = 0; i < n * perDay; i++) y[i] = asinhScale(yRaw[i], yStats.med[i % perDay], yStats.mad[i % perDay]);
    // Seeded shuffle of the rows (tfjs's own shuffle is not seedable).
    const order = Array.from({ length: n }, (_, i) => i);
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
    const p = nPrice + 7;
    const xs = new Float32Array(n * p);
    const ys = new Float32Array(n * perDay);
    order.forEach((src, dst) => {
      xs.set(x.subarray(src * p, (src + 1) * p), dst * p);
      ys.set(y.subarray(src * perDay, (src + 1) * perDay), dst * perDay);
    });
    const warm = net !== undefined;
    net ??= build(p, perDay);
    const xt = tf.tensor2d(xs, [n, p]);
    const yt = tf.tensor2d(ys, [n, perDay]);
    await net.fit(xt, yt, { epochs: warm ? (opts.retrainEpochs ?? 80) : (opts.epochs ?? 200), batchSize: 32, shuffle: false, verbose: 0 });
    xt.dispose();
    yt.dispose();
    trainedAt = t;
  };

  return {
    name,
    minHistoryDays: maxLag + 28,
    async forecastDay(input: DayInput): Promise<number[]> {
      await tfReady();
      const { history, perDay, targetDate } = input;
      const t = history.length / perDay;
      if (t - trainedAt >= retrainEvery || t < trainedAt) await train(input, t);
      const nPrice = lags.length * perDay;
      const raw = lagMatrix(history, perDay, t, t + 1, lags);
      const x = features(raw, 1, nPrice, [targetDate]);
      const pred = tf.tidy(() => (net!.predict(tf.tensor2d(x, [1, nPrice + 7])) as tf.Tensor).dataSync());
      return Array.from(pred, (z, h) => asinhUnscale(z, yStats!.med[h], yStats!.mad[h]));
    },
  };
}
