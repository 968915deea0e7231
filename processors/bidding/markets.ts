import { OptiBidError, localDay, localToUtc, nextDate } from '@optibid/runtime';

/**
 * What an exchange accepts in its day-ahead auction: interval lengths, price bounds and ticks,
 * quantity tick, curve size, and when the gate closes. Figures marked "assumed" in README.md are
 * our reading of public rules, kept here so one edit fixes them everywhere.
 */
export interface MarketRules {
  /** Market id as written in `market.prices` / `bids.signals` (upper case). */
  id: string;
  name: string;
  /** ISO 4217 currency of the price bounds. */
  currency: string;
  /** Delivery interval lengths (minutes) the auction trades. */
  intervalMinutes: number[];
  priceMin: number;
  priceMax: number;
  /** Every limit price must be a multiple of this. */
  priceTick: number;
  /** Every quantity must be a multiple of this (MW). */
  quantityTickMw: number;
  /** Most price–quantity points in one interval's curve. */
  maxSteps: number;
  /** IANA time zone of the delivery day and the gate closure. */
  timeZone: string;
  /** Gate closure: `HH:MM` local time on the day before delivery. */
  gateClosureLocal: string;
}

/** The market catalogue. */
export const markets: Record<string, MarketRules> = {
  EPEX: {
    id: 'EPEX',
    name: 'EPEX SPOT day-ahead (SDAC)',
    currency: 'EUR',
    intervalMinutes: [60, 15],
    priceMin: -500,
    priceMax: 4000,
    priceTick: 0.1,
    quantityTickMw: 0.1,
    maxSteps: 200,
    timeZone: 'Europe/Brussels',
    gateClosureLocal: '12:00',
  },
  NORDPOOL: {
    id: 'NORDPOOL',
    name: 'Nord Pool day-ahead (SDAC)',
    currency: 'EUR',
    intervalMinutes: [60, 15],
    priceMin: -500,
    priceMax: 4000,
    priceTick: 0.1,
    quantityTickMw: 0.1,
    maxSteps: 200,
    timeZone: 'Europe/Oslo',
    gateClosureLocal: '12:00',
  },
  IEX: {
    id: 'IEX',
    name: 'Indian Energy Exchange day-ahead market',
    currency: 'INR',
    intervalMinutes: [15],
    priceMin: 0,
    priceMax: 10_000,
    priceTick: 1,
    quantityTickMw: 0.1, // assumed (README)
    maxSteps: 64,
    timeZone: 'Asia/Kolkata',
    gateClosureLocal: '12:00',
  },
  PJM: {
    id: 'PJM',
    name: 'PJM day-ahead energy market',
    currency: 'USD',
    intervalMinutes: [60],
    priceMin: -1000,
    priceMax: 2000,
    priceTick: 0.01,
    quantityTickMw: 0.1, // assumed (README)
    maxSteps: 10,
    timeZone: 'America/New_York',
    gateClosureLocal: '10:30',
  },
};

/** The rules of a market by id (case-insensitive); a usage error lists the known ones. */
export function marketRules(id: string): MarketRules {
  const rules = markets[id.toUpperCase()];
  if (!rules)
    throw new OptiBidError('OPTIBID_ERR_USAGE', `unknown market "${id}" (markets: ${Object.keys(markets).join(', ')})`);
  return rules;
}

export { localDate } from '@optibid/runtime';

/** Start (UTC ms) of a local delivery day and its length in minutes (1380 or 1500 on DST days). */
export function deliveryDay(market: MarketRules, date: string): { start: number; minutes: number } {
  const { start, end } = localDay(date, market.timeZone);
  return { start, minutes: (end - start) / 60_000 };
}

/** Gate closure (UTC ms) of the day-ahead auction for a delivery date. */
export function gateClosure(market: MarketRules, deliveryDate: string): number {
  return localToUtc(`${nextDate(deliveryDate, -1)}T${market.gateClosureLocal}`, market.timeZone);
}
