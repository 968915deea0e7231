import { parseClockTime } from './duration.js';
import { marketRules } from '../bidding/markets.js';
import { addDays, formatDate, localCalendarDate, zonedTimeToUtc, type LocalDate } from '@optibid/runtime';

/** One day-ahead market as the alert rules see it. Times are wall-clock `HH:MM` in the market's own zone. */
export interface MarketCalendarEntry {
  /** IANA zone the market's gate closure and publication times are set in. */
  timeZone: string;
  /** Day-ahead gate closure, on the day `dayOffset` relative to delivery (usually −1). */
  gateClosure: string;
  /** When bidding opens, if the market has a bidding window (IEX: 10:00). */
  biddingOpens?: string;
  /** Latest wall time day-ahead results are expected to be published. */
  publicationDeadline: string;
  /** Day of gate closure and publication relative to the delivery day. */
  dayOffset: number;
  /** Harmonised price cap and floor (currency per MWh). */
  priceCap: number;
  priceFloor: number;
  currency: string;
  /** Bidding zones / areas traded on this market, for mapping an `area` field to its market. */
  areas: string[];
}

/** Gate closure, time zone, price limits and currency come from the auction catalogue the bidder uses. */
function fromCatalogue(
  id: string,
  entry: Pick<MarketCalendarEntry, 'publicationDeadline' | 'areas'> & Partial<MarketCalendarEntry>,
): MarketCalendarEntry {
  const rules = marketRules(id);
  return {
    timeZone: rules.timeZone,
    gateClosure: rules.gateClosureLocal,
    dayOffset: -1,
    priceCap: rules.priceMax,
    priceFloor: rules.priceMin,
    currency: rules.currency,
    ...entry,
  };
}

/**
 * Built-in calendar: the markets of the auction catalogue (processors/bidding/markets.ts: SDAC gate
 * closure 12:00 CET/CEST on D−1 with +4000/−500 EUR/MWh for EPEX and Nord Pool; IEX India 12:00 IST
 * with 0…10,000 INR/MWh; PJM 10:30 ET) plus what alerting needs besides: IEX's bidding window opening
 * at 10:00 IST, publication deadlines (PJM results by 13:30 ET) and the areas of each market. A rules
 * file may override or add markets.
 */
export const defaultMarkets: Record<string, MarketCalendarEntry> = {
  EPEX: fromCatalogue('EPEX', { publicationDeadline: '13:00', areas: ['DE-LU', 'FR', 'BE', 'NL', 'AT', 'CH', 'PL'] }),
  NORDPOOL: fromCatalogue('NORDPOOL', {
    publicationDeadline: '13:00',
    areas: ['NO1', 'NO2', 'NO3', 'NO4', 'NO5', 'SE1', 'SE2', 'SE3', 'SE4', 'DK1', 'DK2', 'FI', 'EE', 'LV', 'LT', 'SYS'],
  }),
  IEX: fromCatalogue('IEX', {
    biddingOpens: '10:00',
    publicationDeadline: '15:00',
    areas: ['IN', 'N1', 'N2', 'N3', 'E1', 'E2', 'W1', 'W2', 'W3', 'S1', 'S2', 'S3', 'A1', 'A2'],
  }),
  PJM: fromCatalogue('PJM', { publicationDeadline: '13:30', areas: ['PJM', 'PJM-RTO', 'PJM-WEST', 'PJM-EAST'] }),
};

/** A market calendar: the merged built-in and user markets with time arithmetic on them. */
export class MarketCalendar {
  readonly markets: Record<string, MarketCalendarEntry>;
  private readonly areaToMarket = new Map<string, string>();

  constructor(overrides: Record<string, Partial<MarketCalendarEntry>> = {}) {
    this.markets = { ...defaultMarkets };
    for (const [name, entry] of Object.entries(overrides)) {
      const base: MarketCalendarEntry = defaultMarkets[name] ?? {
        timeZone: 'UTC',
        gateClosure: '12:00',
        publicationDeadline: entry.gateClosure ?? '12:00',
        dayOffset: -1,
        priceCap: Number.POSITIVE_INFINITY,
        priceFloor: Number.NEGATIVE_INFINITY,
        currency: '',
        areas: [],
      };
      this.markets[name] = { ...base, ...entry };
    }
    for (const [name, m] of Object.entries(this.markets)) {
      this.areaToMarket.set(name, name);
      for (const area of m.areas) this.areaToMarket.set(area, name);
    }
  }

  get(market: string): MarketCalendarEntry | undefined {
    return this.markets[market];
  }

  /** The market an area (or market name) belongs to. */
  marketOf(areaOrMarket: string): string | undefined {
    return this.areaToMarket.get(areaOrMarket);
  }

  /** The delivery day (in the market's zone) that an instant falls in, e.g. a record's deliveryStart. */
  deliveryDay(market: string, utcMs: number): LocalDate {
    return localCalendarDate(this.entry(market).timeZone, utcMs);
  }

  /** The UTC instant of `time` (`HH:MM`, market wall clock) on the day `dayOffset` from `deliveryDay`. */
  instantFor(market: string, deliveryDay: LocalDate, time: string, dayOffset = this.entry(market).dayOffset): number {
    const minutes = parseClockTime(time);
    if (minutes === undefined) throw new RangeError(`invalid time "${time}" for market ${market}`);
    return zonedTimeToUtc(this.entry(market).timeZone, addDays(deliveryDay, dayOffset), minutes);
  }

  /** Gate closure (UTC ms) for delivery day `deliveryDay`. */
  gateClosure(market: string, deliveryDay: LocalDate): number {
    return this.instantFor(market, deliveryDay, this.entry(market).gateClosure);
  }

  /** Latest expected publication of day-ahead results (UTC ms) for `deliveryDay`. */
  publicationDeadline(market: string, deliveryDay: LocalDate): number {
    return this.instantFor(market, deliveryDay, this.entry(market).publicationDeadline);
  }

  /** Opening of the bidding window (UTC ms) for `deliveryDay`, when the market has one. */
  biddingOpens(market: string, deliveryDay: LocalDate): number | undefined {
    const opens = this.entry(market).biddingOpens;
    return opens === undefined ? undefined : this.instantFor(market, deliveryDay, opens);
  }

  /**
   * The first delivery day whose event (gate closure minus `leadMs`, or whatever `instantOf` yields)
   * happens strictly after `afterMs`, with that instant.
   */
  nextOccurrence(
    market: string,
    afterMs: number,
    instantOf: (day: LocalDate) => number,
  ): { day: LocalDate; at: number } {
    let day = addDays(
      localCalendarDate(this.entry(market).timeZone, afterMs),
      -Math.abs(this.entry(market).dayOffset) - 1,
    );
    for (let i = 0; i < 10; i++) {
      const at = instantOf(day);
      if (at > afterMs) return { day, at };
      day = addDays(day, 1);
    }
    throw new RangeError(`no occurrence found for market ${market} after ${new Date(afterMs).toISOString()}`);
  }

  private entry(market: string): MarketCalendarEntry {
    const m = this.markets[market];
    if (!m) throw new RangeError(`unknown market "${market}"`);
    return m;
  }
}

export { formatDate };
