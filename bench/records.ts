import { ProcessorCore, type Clock, type Logger } from '@optibid/runtime';
import { rollupDefinition } from '@optibid/processors/aggregate/rollup.js';

/** The benchmarks' input: one MarketPrice record (schemas/avro/market.prices-value.avsc) with event time `ts`. */
export function price(i: number, ts: number) {
  return {
    market: 'NORDPOOL',
    area: `A${i % 10}`,
    product: 'DAY_AHEAD',
    deliveryStart: ts,
    intervalMinutes: 15,
    price: 40 + (i % 50) + 0.25,
    currency: 'EUR',
    energyUnit: 'MWH',
    volumeMwh: null,
    publishedAt: null,
    ingestedAt: ts,
    source: 'bench',
  };
}

/** The benchmarks' processing stage: hourly `rollup` bars of `price` through `ProcessorCore`, changes tracked. */
export function barsCore(clock: Clock, logger: Logger): ProcessorCore {
  return ProcessorCore.create(
    {
      name: 'bars',
      definition: rollupDefinition,
      config: { interval: '1h', field: 'price' },
      inputs: ['in'],
      outputs: ['out'],
    },
    { name: 'bars', clock, logger, env: {}, signal: new AbortController().signal },
    { dlqTopic: 'dlq', clock, maxOutOfOrdernessMs: 0, trackChanges: true },
  );
}
