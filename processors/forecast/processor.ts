import { Type, type Static } from '@sinclair/typebox';
import {
  OptiBidError,
  defineProcessor,
  isValidTimeZone,
  localDate as zoneDate,
  localDay,
  nextDate,
  zoneOffsetMinutes,
  type Logger,
  type ProcessContext,
  type StreamRecord,
} from '@optibid/runtime';
import { gateClosure as marketGateClosure, markets, type MarketRules } from '../bidding/markets.js';
import { ConformalQuantiles, type ConformalSnapshot } from './conformal.js';
import { holidayCalendar, holidayCalendars } from './holidays.js';
import type { DayAheadModel } from './model.js';
import { createModel, defaultModel } from './models.js';
import { addDays } from './table.js';

export const PriceForecastConfig = Type.Object(
  {
    market: Type.String({
      description:
        'Market of the prices to forecast, as in MarketPrice.market (e.g. NORDPOOL); its catalogue entry (processors/bidding/markets.ts) gives the time zone and gate closure.',
    }),
    area: Type.String({ description: 'Bidding zone, as in MarketPrice.area (e.g. SYS).' }),
    model: Type.Optional(
      Type.String({
        default: 'default',
        description: 'Forecast model: naive-daily, naive-weekly, lear, dnn, ensemble or default.',
      }),
    ),
    outputTopic: Type.Optional(
      Type.String({ default: 'forecasts.prices', description: 'Topic of the PriceForecast records.' }),
    ),
    intervalMinutes: Type.Optional(
      Type.Integer({ default: 60, description: 'Delivery interval length: 60 (24 per day) or 15 (96 per day).' }),
    ),
    timeZone: Type.Optional(
      Type.String({
        description:
          "IANA time zone of the delivery day (e.g. Europe/Oslo); default: the market's catalogue entry. Required for a market not in the catalogue.",
      }),
    ),
    gateClosure: Type.Optional(
      Type.String({
        pattern: '^\\d{2}:\\d{2}$',
        description:
          "Local gate closure on day d-1 of the day-ahead auction for day d, HH:MM; default: the market's catalogue entry. Required for a market not in the catalogue.",
      }),
    ),
    tickIntervalMs: Type.Optional(
      Type.Integer({
        minimum: 1000,
        default: 60_000,
        description:
          'How often the runtime timer checks, on the injected clock, whether a forecast is due (ms); the forecast is issued at most this long after gate closure minus leadMinutes even when no record arrives.',
      }),
    ),
    leadMinutes: Type.Optional(
      Type.Integer({
        minimum: 0,
        default: 60,
        description: 'Recalibrate and issue this many minutes before gate closure.',
      }),
    ),
    maxHistoryDays: Type.Optional(
      Type.Integer({ minimum: 8, default: 400, description: 'Days of prices kept in state and handed to the model.' }),
    ),
    currency: Type.Optional(Type.String({ default: 'EUR', description: 'ISO 4217 currency of the prices.' })),
    fundamentals: Type.Optional(
      Type.Array(Type.String(), {
        description:
          'market.fundamentals kinds of the same area used as exogenous model inputs (e.g. ["LOAD", "WIND", "SOLAR"]): their profiles for day d, d-1 and d-7 enter LEAR. When a kind is missing for the target day, the forecast falls back to prices only.',
      }),
    ),
    holidays: Type.Optional(
      Type.Union(
        Object.keys(holidayCalendars()).map((code) => Type.Literal(code)),
        {
          description:
            'Holiday calendar of the market (NERC, US, NORDIC, BE, DE, FR, or a market alias such as PJM or NP): the models forecast a holiday like a Sunday and know when the day before was one. Default: none.',
        },
      ),
    ),
    fundamentalsBasis: Type.Optional(
      Type.String({
        default: 'DAY_AHEAD_FORECAST',
        description: 'Basis of the fundamentals records to use (MarketFundamental.basis).',
      }),
    ),
  },
  { additionalProperties: false },
);
export type PriceForecastConfig = Static<typeof PriceForecastConfig>;

/** What the processor reports after each recalibration (the model registry records it). */
export interface ForecastIssue {
  market: string;
  area: string;
  model: string;
  modelVersion: string;
  targetDate: string;
  issuedAt: number;
  trainingFrom: string;
  trainingTo: string;
}

const DAY = 86_400_000;

/**
 * Builds the streaming forecaster: keeps day-ahead prices of one market/area in state, and once per
 * delivery day, `leadMinutes` before gate closure on d-1 in the market's time zone (by the injected
 * clock: on a record, a watermark or the runtime timer, whichever comes first), recalibrates the model
 * on the complete days up to d-1 and emits one PriceForecast per interval of day d with conformal
 * 10/50/90% quantiles from its own past errors. `onIssue` sees every new model version.
 */
export function createPriceForecaster(
  cfg: PriceForecastConfig,
  deps: { logger?: Logger; onIssue?: (issue: ForecastIssue) => void | Promise<void> } = {},
) {
  const interval = cfg.intervalMinutes ?? 60;
  const perDay = 1440 / interval;
  const rules: MarketRules | undefined = markets[cfg.market.toUpperCase()];
  const timeZone = cfg.timeZone ?? rules?.timeZone;
  const gateLocal = cfg.gateClosure ?? rules?.gateClosureLocal;
  if (!timeZone || !gateLocal) {
    throw new OptiBidError(
      'OPTIBID_ERR_CONFIG',
      `price-forecast: market "${cfg.market}" is not in the market catalogue (${Object.keys(markets).join(', ')}); set timeZone and gateClosure`,
    );
  }
  if (!isValidTimeZone(timeZone))
    throw new OptiBidError('OPTIBID_ERR_CONFIG', `price-forecast: timeZone "${timeZone}" is not an IANA time zone`);
  const zone: MarketRules = { ...(rules ?? ({} as MarketRules)), timeZone, gateClosureLocal: gateLocal };
  const lead = (cfg.leadMinutes ?? 60) * 60_000;
  const step = interval * 60_000;
  const maxHistory = cfg.maxHistoryDays ?? 400;
  const modelName = cfg.model ?? 'default';
  const model: DayAheadModel = createModel(modelName);
  const holidays = cfg.holidays === undefined ? undefined : holidayCalendar(cfg.holidays);
  const resolvedModel = modelName === 'default' ? defaultModel : modelName;
  /** The quantile calibration lives in keyed state (`conformal`), so it survives restarts and rebalances. */
  const conformalOf = (state: ProcessContext['state']): ConformalQuantiles => {
    const c = new ConformalQuantiles(perDay);
    const snap = state.get('conformal') as ConformalSnapshot | undefined;
    return snap ? c.load(snap) : c;
  };
  const outputTopic = cfg.outputTopic ?? 'forecasts.prices';

  const localDate = (ms: number) => zoneDate(ms, timeZone);
  /**
   * The delivery intervals of a local day: UTC start and wall-clock slot (0..perDay-1). A 23-hour day
   * lacks the slots of the skipped hour; a 25-hour day has the repeated hour's slots twice.
   */
  const slotCache = new Map<string, { start: number; slot: number }[]>();
  const daySlots = (date: string): { start: number; slot: number }[] => {
    let slots = slotCache.get(date);
    if (!slots) {
      const { start, end } = localDay(date, timeZone);
      slots = [];
      const midnightAsUtc = Date.parse(`${date}T00:00:00Z`);
      const uniform = end - start === DAY;
      for (let t = start; t < end; t += step) {
        const local = uniform ? t - start : t + zoneOffsetMinutes(timeZone, t) * 60_000 - midnightAsUtc;
        slots.push({ start: t, slot: Math.min(perDay - 1, Math.floor(local / step)) });
      }
      if (slotCache.size > 2 * maxHistory + 16) slotCache.clear();
      slotCache.set(date, slots);
    }
    return slots;
  };
  const kinds = cfg.fundamentals ?? [];
  const basis = cfg.fundamentalsBasis ?? 'DAY_AHEAD_FORECAST';
  /**
   * One day of a series on the wall-clock grid (perDay values), or undefined when an interval is missing.
   * DST days are mapped onto it: a repeated slot is averaged, a skipped one interpolated from its neighbours.
   */
  const daySeries = (state: ProcessContext['state'], prefix: string, date: string): number[] | undefined => {
    const sum = new Array<number>(perDay).fill(0);
    const count = new Array<number>(perDay).fill(0);
    for (const { start, slot } of daySlots(date)) {
      const v = state.get(`${prefix}:${start}`);
      if (typeof v !== 'number') return undefined;
      sum[slot] += v;
      count[slot]++;
    }
    const out = sum.map((v, i) => (count[i] > 0 ? v / count[i] : NaN));
    for (let i = 0; i < perDay; i++) {
      if (count[i] > 0) continue;
      let lo = i - 1;
      while (lo >= 0 && count[lo] === 0) lo--;
      let hi = i + 1;
      while (hi < perDay && count[hi] === 0) hi++;
      out[i] = lo >= 0 && hi < perDay ? (out[lo] + out[hi]) / 2 : lo >= 0 ? out[lo] : out[hi];
    }
    return out;
  };
  const dayPrices = (state: ProcessContext['state'], date: string) => daySeries(state, 'price', date);
  /** The fundamentals of one day, one profile per configured kind, or undefined when any is incomplete. */
  const dayExog = (state: ProcessContext['state'], date: string): number[][] | undefined => {
    const out: number[][] = [];
    for (const kind of kinds) {
      const v = daySeries(state, `exog:${kind}`, date);
      if (!v) return undefined;
      out.push(v);
    }
    return out;
  };

  async function maybeIssue(ctx: ProcessContext): Promise<void> {
    const now = ctx.clock.now();
    // The next delivery day whose issue time has passed but whose gate has not closed yet (the gate for
    // day d is on local day d-1, DST-aware).
    const target = nextDate(localDate(now));
    const gate = marketGateClosure(zone, target);
    const issueAt = gate - lead;
    if (now < issueAt || now >= gate || ctx.state.get(`issued:${target}`) !== undefined) return;
    const targetExog = kinds.length > 0 ? dayExog(ctx.state, target) : undefined;
    if (kinds.length > 0 && !targetExog)
      deps.logger?.warn({ target, kinds }, 'fundamentals incomplete for the target day; forecasting from prices only');
    const days: string[] = [];
    const rows: number[][] = [];
    const exogRows: number[][][] = [];
    for (let d = addDays(target, -1); days.length < maxHistory; d = addDays(d, -1)) {
      const p = dayPrices(ctx.state, d);
      if (!p) break;
      let e: number[][] | undefined;
      if (targetExog) {
        e = dayExog(ctx.state, d);
        if (!e) break; // history with fundamentals ends at the first day without them
      }
      days.unshift(d);
      rows.unshift(p);
      if (e) exogRows.unshift(e);
    }
    // No price of this market in this state (another input partition, or the timer before any record):
    // nothing to forecast from here, and nothing to mark.
    if (days.length === 0) return;
    if (days.length < model.minHistoryDays) {
      deps.logger?.warn(
        { target, days: days.length, needed: model.minHistoryDays },
        'not enough complete price days before the target day; no forecast',
      );
      ctx.state.put(`issued:${target}`, { skipped: true });
      return;
    }
    const history = Float64Array.from(rows.flat());
    let exog: Record<string, Float64Array> | undefined;
    if (targetExog) {
      exog = {};
      kinds.forEach((kind, k) => {
        exog![kind] = Float64Array.from([...exogRows.flatMap((e) => e[k]), ...targetExog[k]]);
      });
    }
    const forecast = await model.forecastDay({
      history,
      historyDays: days,
      targetDate: target,
      perDay,
      ...(holidays ? { holidays } : {}),
      ...(exog ? { exog } : {}),
    });
    const modelVersion = `${resolvedModel}@${days[days.length - 1]}`;
    const q = conformalOf(ctx.state).quantiles(forecast);
    ctx.state.put(`issued:${target}`, { forecast, modelVersion });
    for (const { start: deliveryStart, slot: i } of daySlots(target)) {
      ctx.emit({
        topic: outputTopic,
        key: `${cfg.market}|${cfg.area}`,
        timestamp: now,
        value: {
          market: cfg.market,
          area: cfg.area,
          product: 'DAY_AHEAD',
          deliveryStart,
          intervalMinutes: interval,
          issuedAt: now,
          model: resolvedModel,
          modelVersion,
          price: forecast[i],
          currency: cfg.currency ?? 'EUR',
          energyUnit: 'MWH',
          quantiles: q
            ? [
                { probability: 0.1, price: Math.min(q.q10[i], q.q50[i]) },
                { probability: 0.5, price: q.q50[i] },
                { probability: 0.9, price: Math.max(q.q90[i], q.q50[i]) },
              ]
            : [],
        },
      });
    }
    await deps.onIssue?.({
      market: cfg.market,
      area: cfg.area,
      model: resolvedModel,
      modelVersion,
      targetDate: target,
      issuedAt: now,
      trainingFrom: days[0],
      trainingTo: days[days.length - 1],
    });
  }

  /** Once all prices of an issued day are in, its errors calibrate later quantiles; old state is pruned. */
  function settle(ctx: ProcessContext, date: string): void {
    const issued = ctx.state.get(`issued:${date}`) as { forecast?: number[] } | undefined;
    if (!issued?.forecast || ctx.state.get(`settled:${date}`) !== undefined) return;
    const actual = dayPrices(ctx.state, date);
    if (!actual) return;
    const conformal = conformalOf(ctx.state);
    conformal.observe(actual, issued.forecast);
    ctx.state.put('conformal', conformal.snapshot());
    ctx.state.put(`settled:${date}`, true);
    const horizon = localDay(addDays(date, -maxHistory - 1), timeZone).start;
    for (const [key] of [...ctx.state.entries()]) {
      const cut = key.indexOf(':');
      const kind = key.slice(0, cut);
      const rest = key.slice(cut + 1);
      if ((kind === 'price' || kind === 'exog') && Number(rest.slice(rest.lastIndexOf(':') + 1)) < horizon)
        ctx.state.delete(key);
      if ((kind === 'issued' || kind === 'settled') && rest < addDays(date, -7)) ctx.state.delete(key);
    }
  }

  return {
    async process(record: StreamRecord, ctx: ProcessContext): Promise<void> {
      const f = record.value as {
        area?: string;
        kind?: string;
        basis?: string;
        deliveryStart?: number;
        intervalMinutes?: number;
        valueMw?: number;
      };
      if (kinds.length > 0 && f && typeof f === 'object' && 'kind' in f && 'valueMw' in f) {
        if (f.area === cfg.area && kinds.includes(f.kind ?? '') && (f.basis ?? basis) === basis) {
          if (typeof f.deliveryStart !== 'number' || typeof f.valueMw !== 'number' || !Number.isFinite(f.valueMw)) {
            throw new Error('market.fundamentals record without a numeric deliveryStart and valueMw');
          }
          if (f.intervalMinutes !== interval)
            throw new Error(
              `fundamentals intervalMinutes ${f.intervalMinutes} does not match the configured ${interval}`,
            );
          ctx.state.put(`exog:${f.kind}:${f.deliveryStart}`, f.valueMw);
        }
        await maybeIssue(ctx);
        return;
      }
      const v = record.value as {
        market?: string;
        area?: string;
        product?: string;
        deliveryStart?: number;
        intervalMinutes?: number;
        price?: number;
      };
      if (v.market === cfg.market && v.area === cfg.area && (v.product ?? 'DAY_AHEAD') === 'DAY_AHEAD') {
        if (typeof v.deliveryStart !== 'number' || typeof v.price !== 'number' || !Number.isFinite(v.price)) {
          throw new Error('market.prices record without a numeric deliveryStart and price');
        }
        if (v.intervalMinutes !== interval)
          throw new Error(`intervalMinutes ${v.intervalMinutes} does not match the configured ${interval}`);
        ctx.state.put(`price:${v.deliveryStart}`, v.price);
        settle(ctx, localDate(v.deliveryStart));
      }
      await maybeIssue(ctx);
    },
    async onWatermark(_watermark: number, ctx: ProcessContext): Promise<void> {
      await maybeIssue(ctx);
    },
    /** Runtime timer on the injected clock: issues at gate closure minus lead even when no record arrives. */
    timerIntervalMs: cfg.tickIntervalMs ?? 60_000,
    async onTimer(_now: number, ctx: ProcessContext): Promise<void> {
      await maybeIssue(ctx);
    },
  };
}

/** `price-forecast`: day-ahead price forecasts from market.prices to forecasts.prices on the gate-closure schedule. */
export const priceForecastProcessor = defineProcessor({
  name: 'price-forecast',
  status: 'beta',
  summary:
    'Day-ahead price forecasts (LEAR/DNN/ensemble with conformal quantiles) from market.prices (and market.fundamentals), issued before gate closure',
  config: PriceForecastConfig,
  create: (cfg, ctx) => createPriceForecaster(cfg, { logger: ctx.logger }),
});
