import type { FundamentalBasis, FundamentalKind, MarketProduct } from '@optibid/schemas';

/** ENTSO-E code lists used by the parser (from the Transparency Platform API guide). */

/** Document types this connector reads. */
export const documentTypes = {
  A44: 'Price document (day-ahead prices) → market.prices',
  A65: 'System total load (forecast or actual) → market.fundamentals LOAD',
  A69: 'Wind and solar forecast → market.fundamentals WIND_*/SOLAR',
  A71: 'Generation forecast → market.fundamentals GENERATION',
  A75: 'Actual generation per type → market.fundamentals (wind, solar, hydro, nuclear)',
} as const;

export type EntsoeDocumentType = keyof typeof documentTypes;

/** processType → basis on market.fundamentals (absent: no matching basis, the series is skipped). */
export const processBasis: Record<string, FundamentalBasis> = {
  A01: 'DAY_AHEAD_FORECAST',
  A16: 'ACTUAL',
  A18: 'INTRADAY_FORECAST',
  A31: 'WEEK_AHEAD_FORECAST',
  A40: 'INTRADAY_FORECAST',
};

/** psrType → fundamental kind (types with no kind in the schema, e.g. biomass or gas, are skipped). */
export const psrKinds: Record<string, FundamentalKind> = {
  B10: 'HYDRO',
  B11: 'HYDRO',
  B12: 'HYDRO',
  B14: 'NUCLEAR',
  B16: 'SOLAR',
  B18: 'WIND_OFFSHORE',
  B19: 'WIND_ONSHORE',
};

/** contract_MarketAgreement.type → product on market.prices. */
export const contractProducts: Record<string, MarketProduct> = {
  A01: 'DAY_AHEAD',
  A07: 'INTRADAY_AUCTION',
};

/** EIC codes of common bidding zones → the short names markets use. Unknown codes pass through. */
export const biddingZones: Record<string, string> = {
  '10YAT-APG------L': 'AT',
  '10YBE----------2': 'BE',
  '10YCH-SWISSGRIDZ': 'CH',
  '10YCZ-CEPS-----N': 'CZ',
  '10Y1001A1001A82H': 'DE-LU',
  '10Y1001A1001A83F': 'DE',
  '10YDK-1--------W': 'DK1',
  '10YDK-2--------M': 'DK2',
  '10Y1001A1001A39I': 'EE',
  '10YES-REE------0': 'ES',
  '10YFI-1--------U': 'FI',
  '10YFR-RTE------C': 'FR',
  '10YGR-HTSO-----Y': 'GR',
  '10YHU-MAVIR----U': 'HU',
  '10Y1001A1001A59C': 'IE-SEM',
  '10YLT-1001A0008Q': 'LT',
  '10YLV-1001A00074': 'LV',
  '10YNL----------L': 'NL',
  '10YNO-1--------2': 'NO1',
  '10YNO-2--------T': 'NO2',
  '10YNO-3--------J': 'NO3',
  '10YNO-4--------9': 'NO4',
  '10Y1001A1001A48H': 'NO5',
  '10YPL-AREA-----S': 'PL',
  '10YPT-REN------W': 'PT',
  '10YRO-TEL------P': 'RO',
  '10Y1001A1001A44P': 'SE1',
  '10Y1001A1001A45N': 'SE2',
  '10Y1001A1001A46L': 'SE3',
  '10Y1001A1001A47J': 'SE4',
  '10YSI-ELES-----O': 'SI',
  '10YSK-SEPS-----K': 'SK',
};

/** The short zone name of an EIC code (itself when unknown). */
export function zoneName(eic: string): string {
  return biddingZones[eic] ?? eic;
}

/** The EIC code of a zone given by short name or EIC (itself when unknown). */
export function zoneEic(zone: string): string {
  return Object.entries(biddingZones).find(([, name]) => name === zone)?.[0] ?? zone;
}
