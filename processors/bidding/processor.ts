import { Type, type Static } from '@sinclair/typebox';
import { OptiBidError, defineProcessor, type Logger, type ProcessContext, type StreamRecord } from '@optibid/runtime';
import type { BidSignal, MarketPrice, PriceForecast } from '@optibid/schemas';
import { resolveBattery, scheduleHedged, type Battery, type BatterySchedule } from './battery.js';
import { buildBidCurves, quantityAt, roundScheduleToTick, type BidStep } from './curves.js';
import { deliveryDay, gateClosure, localDate, markets, type MarketRules } from './markets.js';
import { ShapeBiasCorrector, type ShapeBiasSnapshot } from './shapebias.js';

const AssetSchema = Type.Object(
  {
    assetId: Type.String({ description: 'Asset id, as in telemetry and bids.signals.' }),
    market: Type.String({ description: 'Market id from the catalogue: EPEX, NORDPOOL, IEX, PJM.' }),
    area: Type.String({ description: 'Bidding zone the asset bids in, as in forecasts.prices.' }),
    powerMw: Type.Number({ exclusiveMinimum: 0 }),
    energyMwh: Type.Number({ exclusiveMinimum: 0 }),
    chargeEfficiency: Type.Number({ exclusiveMinimum: 0, maximum: 1 }),
    dischargeEfficiency: Type.Number({ exclusiveMinimum: 0, maximum: 1 }),
    socMinMwh: Type.Optional(Type.Number({ minimum: 0 })),
    socMaxMwh: Type.Optional(Type.Number({ minimum: 0 })),
    initialSocMwh: Type.Optional(Type.Number({ minimum: 0 })),
    finalSocMwh: Type.Optional(Type.Number({ minimum: 0 })),
    degradationCostPerMwh: Type.Optional(Type.Number({ minimum: 0 })),
    maxCyclesPerDay: Type.Optional(Type.Number({ minimum: 0 })),
  },
  { additionalProperties: false },
);

/** A battery in the asset registry. */
export type BatteryAsset = Static<typeof AssetSchema>;

export const BatteryBidderConfig = Type.Object(
  {
    assets: Type.Optional(
      Type.Array(AssetSchema, { default: [], description: 'Batteries to bid for (more can arrive on assetTopic).' }),
    ),
    assetTopic: Type.Optional(
      Type.String({
        description: 'Topic of asset-registry records (a BatteryAsset value; `{assetId, deleted: true}` removes one).',
      }),
    ),
    forecastTopic: Type.Optional(
      Type.String({ default: 'forecasts.prices', description: 'Topic of PriceForecast records.' }),
    ),
    outputTopic: Type.Optional(
      Type.String({
        description: "Topic for BidSignal records; default: the processor's first output (bids.signals).",
      }),
    ),
    model: Type.Optional(Type.String({ description: 'Only use forecasts of this model (default: any).' })),
    riskAversion: Type.Optional(
      Type.Number({
        minimum: 0,
        maximum: 1,
        default: 0,
        description: 'Hedge on forecast quantiles: buy at q50+α(q90−q50), sell at q50−α(q50−q10).',
      }),
    ),
    materialChangeMwh: Type.Optional(
      Type.Number({
        minimum: 0,
        default: 0.1,
        description:
          'Re-emit for a newer forecast only when the schedule moves at least this much energy (Σ|Δ net MW|·hours).',
      }),
    ),
    gateMarginMinutes: Type.Optional(
      Type.Number({ minimum: 0, default: 5, description: 'Stop emitting this many minutes before gate closure.' }),
    ),
    priceTopic: Type.Optional(
      Type.String({
        description:
          'Topic of realised MarketPrice records (market.prices); with shapeBias, each delivered day teaches the correction.',
      }),
    ),
    shapeBias: Type.Optional(
      Type.Object(
        {
          windowDays: Type.Optional(Type.Integer({ minimum: 2, description: 'Days of residuals kept (default 56).' })),
          spread: Type.Optional(
            Type.Integer({ minimum: 0, description: 'Neighbouring intervals pooled (default 1).' }),
          ),
          minT2: Type.Optional(
            Type.Number({ minimum: 0, description: 'Shrinkage threshold c of max(0, 1 − c/t²) (default 4).' }),
          ),
          minDays: Type.Optional(
            Type.Integer({ minimum: 2, description: 'Days needed before any correction (default 7).' }),
          ),
          slopeShrink: Type.Optional(
            Type.Number({
              minimum: 0,
              description: 'Also calibrate each interval’s swing, slope shrunk toward 1 by λ.',
            }),
          ),
        },
        {
          additionalProperties: false,
          description:
            'Schedule (and build curves) on the forecast plus its recent intraday shape bias, learnt per market, area and model from the realised prices on priceTopic (ShapeBiasCorrector). Needs priceTopic.',
        },
      ),
    ),
    pricePoints: Type.Optional(
      Type.Integer({
        minimum: 2,
        maximum: 50,
        default: 5,
        description: 'Price points evaluated per interval inside the forecast band when building curves.',
      }),
    ),
  },
  { additionalProperties: false },
);
export type BatteryBidderConfig = Static<typeof BatteryBidderConfig>;

/** What the processor remembers about the last signals it emitted for one asset and day. */
interface Emitted {
  issuedAt: number;
  revision: number;
  netMw: number[];
}

interface DayBucket {
  market: MarketRules;
  area: string;
  model: string;
  modelVersion: string | null;
  issuedAt: number;
  date: string;
  intervalMinutes: number;
  expected: number;
  byStart: Map<number, PriceForecast>;
}

/** Realised prices of one delivery day, collected until complete (state key `px|market|area|date`). */
interface PriceDay {
  expected: number;
  intervalMinutes: number;
  prices: Record<string, number>;
}

/**
 * The `battery-bidder` processor: assembles each delivery day of `forecasts.prices` (one record per
 * interval), and when a day is complete schedules every registered battery of that market and area
 * exactly, builds its bid curves and emits one `bids.signals` record per interval, before the
 * market's gate closure (by the injected clock). A newer forecast for the same day re-emits only when
 * it moves the schedule materially; each emission carries a revision.
 */
export const batteryBidderProcessor = defineProcessor({
  name: 'battery-bidder',
  status: 'beta',
  summary:
    'Battery day-ahead bids from price forecasts: exact schedule, exchange-ready curves, re-emitted when a new forecast changes the schedule',
  config: BatteryBidderConfig,
  create(config, ctx) {
    const assets = new Map<string, BatteryAsset>();
    for (const a of config.assets ?? []) addAsset(a);
    const forecastTopic = config.forecastTopic ?? 'forecasts.prices';
    const margin = (config.gateMarginMinutes ?? 5) * 60_000;
    const materialMwh = config.materialChangeMwh ?? 0.1;
    const buckets = new Map<string, DayBucket>();
    const latestIssued = new Map<string, number>();
    const shapeOpts = config.shapeBias;
    if (shapeOpts && !config.priceTopic)
      throw new OptiBidError('OPTIBID_ERR_CONFIG', 'battery-bidder: shapeBias needs priceTopic (the realised prices)', {
        context: { field: 'shapeBias' },
      });
    if (shapeOpts) new ShapeBiasCorrector(24, shapeOpts); // rejects inconsistent settings at start-up
    /** Intervals of a normal (not DST-changeover) day: the corrector works on those only. */
    const normalDay = (intervalMinutes: number) => (24 * 60) / intervalMinutes;
    const correctorKey = (market: string, area: string, model: string, intervalMinutes: number) =>
      `shape|${market}|${area.toUpperCase()}|${model}|${intervalMinutes}`;
    function corrector(state: ProcessContext['state'], key: string, perDay: number): ShapeBiasCorrector {
      const c = new ShapeBiasCorrector(perDay, shapeOpts);
      const snap = state.get(key) as ShapeBiasSnapshot | undefined;
      return snap ? c.load(snap) : c;
    }

    /** A realised price: when its day is complete, every model's forecast for that day teaches its corrector. */
    function onPrice(record: StreamRecord, pctx: ProcessContext): void {
      const v = record.value as Partial<MarketPrice>;
      if (!v || typeof v !== 'object') throw recordError(record, 'price value is not an object');
      for (const field of ['market', 'area'] as const)
        if (typeof v[field] !== 'string') throw recordError(record, `price field ${field} must be a string`);
      for (const field of ['deliveryStart', 'intervalMinutes', 'price'] as const)
        if (typeof v[field] !== 'number' || !Number.isFinite(v[field]))
          throw recordError(record, `price field ${field} must be a finite number, got ${String(v[field])}`);
      if (!shapeOpts || (v.product !== undefined && v.product !== 'DAY_AHEAD')) return;
      const market = markets[v.market!.toUpperCase()];
      if (!market) return; // a market nobody bids in
      const date = localDate(v.deliveryStart!, market.timeZone);
      const key = `px|${market.id}|${v.area!.toUpperCase()}|${date}`;
      const day: PriceDay = (pctx.state.get(key) as PriceDay | undefined) ?? {
        expected: deliveryDay(market, date).minutes / v.intervalMinutes!,
        intervalMinutes: v.intervalMinutes!,
        prices: {},
      };
      if (day.intervalMinutes !== v.intervalMinutes) return; // another resolution of the same day
      day.prices[String(v.deliveryStart)] = v.price!;
      if (Object.keys(day.prices).length < day.expected) {
        pctx.state.put(key, day);
        return;
      }
      pctx.state.delete(key);
      const used = `fc|${market.id}|${v.area!.toUpperCase()}|${date}|${day.intervalMinutes}`;
      const forecasts = pctx.state.get(used) as Record<string, number[]> | undefined;
      pctx.state.delete(used);
      if (!forecasts || day.expected !== normalDay(day.intervalMinutes)) return;
      const actual = Object.entries(day.prices)
        .sort((a, b) => Number(a[0]) - Number(b[0]))
        .map(([, p]) => p);
      for (const [model, forecast] of Object.entries(forecasts)) {
        const ck = correctorKey(market.id, v.area!, model, day.intervalMinutes);
        const c = corrector(pctx.state, ck, day.expected);
        c.observe(actual, forecast);
        pctx.state.put(ck, c.snapshot());
      }
    }

    function addAsset(a: BatteryAsset): void {
      const market = markets[a.market.toUpperCase()];
      if (!market)
        throw new OptiBidError(
          'OPTIBID_ERR_CONFIG',
          `asset ${a.assetId}: unknown market "${a.market}" (markets: ${Object.keys(markets).join(', ')})`,
        );
      resolveBattery(a);
      assets.set(a.assetId, { ...a, market: market.id });
    }

    function onAsset(record: StreamRecord): void {
      const v = record.value as Partial<BatteryAsset> & { deleted?: boolean };
      if (!v || typeof v !== 'object' || typeof v.assetId !== 'string')
        throw recordError(record, 'asset record needs a string assetId');
      if (v.deleted) assets.delete(v.assetId);
      else addAsset(v as BatteryAsset);
    }

    function onForecast(record: StreamRecord, pctx: ProcessContext): void {
      const f = decodeForecast(record);
      if (config.model && f.model !== config.model) return;
      const market = markets[f.market.toUpperCase()];
      if (!market)
        throw recordError(record, `unknown market "${f.market}" (markets: ${Object.keys(markets).join(', ')})`);
      if (!market.intervalMinutes.includes(f.intervalMinutes))
        throw recordError(
          record,
          `${market.id} trades ${market.intervalMinutes.join('/')}-minute intervals, not ${f.intervalMinutes}`,
        );
      const date = localDate(f.deliveryStart, market.timeZone);
      const dayKey = `${market.id}|${f.area}|${f.model}|${date}`;
      if ((latestIssued.get(dayKey) ?? -Infinity) > f.issuedAt) return; // superseded already
      const key = `${dayKey}|${f.issuedAt}`;
      let bucket = buckets.get(key);
      if (!bucket) {
        const day = deliveryDay(market, date);
        bucket = {
          market,
          area: f.area,
          model: f.model,
          modelVersion: f.modelVersion,
          issuedAt: f.issuedAt,
          date,
          intervalMinutes: f.intervalMinutes,
          expected: day.minutes / f.intervalMinutes,
          byStart: new Map(),
        };
        buckets.set(key, bucket);
      }
      bucket.byStart.set(f.deliveryStart, f);
      if (bucket.byStart.size < bucket.expected) return;
      buckets.delete(key);
      latestIssued.set(dayKey, f.issuedAt);
      for (const k of buckets.keys())
        if (k.startsWith(`${dayKey}|`) && Number(k.slice(dayKey.length + 1)) < f.issuedAt) buckets.delete(k);
      if (shapeOpts) {
        // Remember the latest complete forecast of each model for this day, to score it once the prices are in.
        const used = `fc|${market.id}|${f.area.toUpperCase()}|${date}|${f.intervalMinutes}`;
        const byModel = (pctx.state.get(used) as Record<string, number[]> | undefined) ?? {};
        byModel[f.model] = [...bucket.byStart.values()]
          .sort((a, b) => a.deliveryStart - b.deliveryStart)
          .map((r) => r.price);
        pctx.state.put(used, byModel);
      }
      for (const asset of assets.values()) {
        if (asset.market === market.id && asset.area.toUpperCase() === f.area.toUpperCase())
          bid(asset, bucket, pctx, ctx.logger);
      }
    }

    function bid(asset: BatteryAsset, day: DayBucket, pctx: ProcessContext, logger: Logger): void {
      const gate = gateClosure(day.market, day.date);
      const now = pctx.clock.now();
      if (now > gate - margin) {
        logger.warn(
          { assetId: asset.assetId, date: day.date, gateClosure: new Date(gate).toISOString() },
          'forecast complete after gate closure; no bids emitted',
        );
        return;
      }
      const rows = [...day.byStart.values()].sort((a, b) => a.deliveryStart - b.deliveryStart);
      const published = rows.map((r) => r.price);
      // With shapeBias, the schedule and curves use the forecast plus its learnt shape correction (quantiles shifted alike).
      let shift: Float64Array | undefined;
      if (shapeOpts && rows.length === normalDay(day.intervalMinutes)) {
        const ck = correctorKey(day.market.id, day.area, day.model, day.intervalMinutes);
        if (pctx.state.get(ck)) shift = corrector(pctx.state, ck, rows.length).correction(published);
      }
      const shifted = (v: number[] | undefined) => (v && shift ? v.map((x, t) => x + shift[t]) : v);
      const forecast = shifted(published)!;
      const q10 = shifted(quantileOf(rows, 0.1));
      const q90 = shifted(quantileOf(rows, 0.9));
      const battery: Battery = asset;
      const curves = buildBidCurves({
        market: day.market,
        deliveryDate: day.date,
        forecast,
        q10,
        q90,
        battery,
        intervalMinutes: day.intervalMinutes,
        pricePoints: config.pricePoints ?? 5,
      });
      const alpha = config.riskAversion ?? 0;
      const schedule: BatterySchedule =
        alpha > 0 && q10 && q90
          ? scheduleHedged({ q10, q50: forecast, q90 }, battery, alpha, day.intervalMinutes)
          : curves.schedule;
      const stateKey = `bid|${asset.assetId}|${day.date}`;
      const previous = pctx.state.get(stateKey) as Emitted | undefined;
      const h = day.intervalMinutes / 60;
      if (previous) {
        let moved = 0;
        for (let t = 0; t < schedule.netMw.length; t++)
          moved += Math.abs(schedule.netMw[t] - (previous.netMw[t] ?? 0)) * h;
        if (moved < materialMwh) {
          logger.debug(
            { assetId: asset.assetId, date: day.date, movedMwh: moved },
            'new forecast does not change the schedule materially',
          );
          return;
        }
      }
      const revision = (previous?.revision ?? 0) + 1;
      pctx.state.put(stateKey, {
        issuedAt: day.issuedAt,
        revision,
        netMw: Array.from(schedule.netMw),
      } satisfies Emitted);
      const b = resolveBattery(battery);
      // What is submitted: the schedule on the market's quantity tick, within the battery's limits.
      const ticked = roundScheduleToTick(schedule, battery, day.market.quantityTickMw, forecast);
      for (let t = 0; t < rows.length; t++) {
        const net = ticked.netMw[t];
        const side: BidSignal['side'] = net < 0 ? 'BUY' : net > 0 ? 'SELL' : 'HOLD';
        const steps = curves.curves[t].steps;
        const value: BidSignal = {
          signalId: [
            'battery-arbitrage',
            day.market.id,
            day.area,
            'DAY_AHEAD',
            asset.assetId,
            rows[t].deliveryStart,
          ].join('|'),
          market: day.market.id,
          area: day.area,
          product: 'DAY_AHEAD',
          assetId: asset.assetId,
          deliveryStart: rows[t].deliveryStart,
          intervalMinutes: day.intervalMinutes,
          side,
          quantityMw: Math.abs(net),
          limitPrice: limitPrice(side, Math.abs(net), steps, day.market, forecast[t]),
          currency: day.market.currency,
          energyUnit: 'MWH',
          expectedValue:
            (forecast[t] * net - b.degradationCostPerMwh * (ticked.chargeMw[t] + ticked.dischargeMw[t])) * h,
          strategy: 'battery-arbitrage',
          forecastModel: day.model,
          forecastIssuedAt: day.issuedAt,
          gateClosure: gate,
          createdAt: now,
          reason: `${side.toLowerCase()} ${Math.abs(net).toFixed(3)} MW (schedule ${Math.abs(schedule.netMw[t]).toFixed(3)} MW, to the ${day.market.quantityTickMw} MW tick) at forecast ${forecast[t].toFixed(2)} ${day.market.currency}/MWh${shift ? ` (published ${published[t].toFixed(2)}, shape-corrected)` : ''}; SoC ${ticked.socMwh[t].toFixed(3)} MWh after; revision ${revision}`,
          forecastModelVersion: day.modelVersion,
          revision,
          dayExpectedValue: ticked.revenue,
          curve: steps.map((p) => ({ price: p.price, quantityMw: p.quantityMw })),
        };
        pctx.emit({
          topic: config.outputTopic,
          key: `${day.market.id}|${day.area}|${asset.assetId}`,
          value,
          timestamp: now,
        });
      }
    }

    return {
      process(record: StreamRecord, pctx: ProcessContext) {
        if (config.assetTopic && record.topic === config.assetTopic) return onAsset(record);
        if (config.priceTopic && record.topic === config.priceTopic) return onPrice(record, pctx);
        if (record.topic === forecastTopic) return onForecast(record, pctx);
        throw recordError(
          record,
          `battery-bidder does not read topic ${record.topic} (forecasts: ${forecastTopic}${config.assetTopic ? `, assets: ${config.assetTopic}` : ''}${config.priceTopic ? `, prices: ${config.priceTopic}` : ''})`,
        );
      },
    };
  },
});

/**
 * The price at which the step curve still trades the scheduled quantity (on the quantity tick):
 * the most to pay when buying, the least to take when selling. With step semantics a point's price
 * is the top of the range it covers, so a sell limit is one tick above the previous point. A
 * quantity rounded up past what the curve trades at the forecast (a tick added back because the
 * battery had room) is priced like the curve's quantity there, so the limit still clears at the forecast.
 */
function limitPrice(
  side: BidSignal['side'],
  quantity: number,
  steps: BidStep[],
  market: MarketRules,
  forecast: number,
): number | null {
  if (side === 'HOLD') return null;
  const sign = side === 'BUY' ? 1 : -1;
  const atForecast = sign * quantityAt(steps, forecast);
  const target = atForecast > market.quantityTickMw / 2 && atForecast < quantity ? atForecast : quantity;
  const need = target - 1e-9 * market.quantityTickMw;
  if (side === 'BUY') {
    const ok = steps.filter((s) => s.quantityMw >= need);
    return ok.length ? Math.max(...ok.map((s) => s.price)) : forecast;
  }
  const i = steps.findIndex((s) => -s.quantityMw >= need);
  if (i < 0) return forecast;
  if (i === 0) return market.priceMin;
  return Number((steps[i - 1].price + market.priceTick).toFixed(6));
}

function quantileOf(rows: PriceForecast[], p: number): number[] | undefined {
  const out: number[] = [];
  for (const r of rows) {
    const q = r.quantiles.find((x) => Math.abs(x.probability - p) < 1e-6);
    if (!q) return undefined;
    out.push(q.price);
  }
  return out;
}

function decodeForecast(record: StreamRecord): PriceForecast {
  const v = record.value as Partial<PriceForecast>;
  if (!v || typeof v !== 'object') throw recordError(record, 'value is not an object');
  for (const field of ['market', 'area', 'model'] as const)
    if (typeof v[field] !== 'string') throw recordError(record, `field ${field} must be a string`);
  for (const field of ['deliveryStart', 'intervalMinutes', 'issuedAt', 'price'] as const) {
    if (typeof v[field] !== 'number' || !Number.isFinite(v[field]))
      throw recordError(record, `field ${field} must be a finite number, got ${String(v[field])}`);
  }
  const f = v as PriceForecast;
  return { ...f, modelVersion: f.modelVersion ?? null, quantiles: Array.isArray(f.quantiles) ? f.quantiles : [] };
}

function recordError(record: StreamRecord, reason: string): OptiBidError {
  return new OptiBidError('OPTIBID_ERR_RECORD', `battery-bidder: ${reason}`, {
    context: { topic: record.topic, partition: record.partition, offset: record.offset },
  });
}
