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
