import { parseClockTime } from './duration.js';
import { addDays, formatDate, localDate, zonedTimeToUtc, type LocalDate } from './time-zone.js';

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

/**
 * Built-in calendar. Sources: SDAC (EPEX, Nord Pool) gate closure 12:00 CET/CEST on D−1 with the harmonised
 * +4000/−500 EUR/MWh limits; IEX India day-ahead bidding 10:00–12:00 IST with a 10,000 INR/MWh ceiling;
 * PJM day-ahead offers due 10:30 ET with results by 13:30 ET. A rules file may override or add markets.
 */
export const defaultMarkets: Record<string, MarketCalendarEntry> = {
  EPEX: {
    timeZone: 'Europe/Paris',
    gateClosure: '12:00',
    publicationDeadline: '13:00',
    dayOffset: -1,
    priceCap: 4000,
    priceFloor: -500,
    currency: 'EUR',
    areas: ['DE-LU', 'FR', 'BE', 'NL', 'AT', 'CH', 'PL'],
  },
  NORDPOOL: {
    timeZone: 'Europe/Oslo',
    gateClosure: '12:00',
    publicationDeadline: '13:00',
    dayOffset: -1,
    priceCap: 4000,
    priceFloor: -500,
    currency: 'EUR',
    areas: ['NO1', 'NO2', 'NO3', 'NO4', 'NO5', 'SE1', 'SE2', 'SE3', 'SE4', 'DK1', 'DK2', 'FI', 'EE', 'LV', 'LT', 'SYS'],
  },
  IEX: {
    timeZone: 'Asia/Kolkata',
    biddingOpens: '10:00',
    gateClosure: '12:00',
    publicationDeadline: '15:00',
    dayOffset: -1,
    priceCap: 10000,
    priceFloor: 0,
    currency: 'INR',
    areas: ['IN', 'N1', 'N2', 'N3', 'E1', 'E2', 'W1', 'W2', 'W3', 'S1', 'S2', 'S3', 'A1', 'A2'],
  },
  PJM: {
    timeZone: 'America/New_York',
    gateClosure: '10:30',
    publicationDeadline: '13:30',
    dayOffset: -1,
    priceCap: 2000,
    priceFloor: -1000,
    currency: 'USD',
    areas: ['PJM', 'PJM-RTO', 'PJM-WEST', 'PJM-EAST'],
  },
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
    return localDate(this.entry(market).timeZone, utcMs);
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
    let day = addDays(localDate(this.entry(market).timeZone, afterMs), -Math.abs(this.entry(market).dayOffset) - 1);
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
