import { readFileSync } from 'node:fs';
import { OptiBidError } from '@optibid/runtime';

/**
 * An hourly (or quarter-hourly) price series read from a CSV, grouped into whole delivery days.
 * Every numeric column of the file stays available by name (for `--compare` and `column:NAME` models).
 */
export interface PriceTable {
  /** Where the rows came from (a file path or a label). */
  source: string;
  /** The column used as the price to forecast. */
  priceColumn: string;
  /** Delivery-interval timestamps as written in the file (`YYYY-MM-DD HH:MM[:SS]`), in order. */
  timestamps: string[];
  /** The price column, one value per timestamp. */
  prices: Float64Array;
  /** Every column except the timestamp, by header name (NaN where a cell is empty). */
  columns: Record<string, Float64Array>;
  /** Column names in file order (without the timestamp column). */
  columnNames: string[];
  /** Intervals per delivery day (24 hourly, 96 quarter-hourly). */
  perDay: number;
  /** Delivery dates `YYYY-MM-DD`, one per day; day i covers rows i*perDay .. (i+1)*perDay-1. */
  days: string[];
}

const timestampPattern = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}):(\d{2})(?::\d{2})?/;

/**
 * Reads a CSV of series without a price of its own (`timestamp,Load forecast,Wind forecast,...`, e.g. the file
 * `joinColumns` adds to a price table): read once, its first value column serves as the table's price column.
 */
export function readSeriesCsv(file: string): PriceTable {
  const text = readCsvText(file);
  const first = splitCsvLine(text.split(/\r?\n/, 1)[0] ?? '')[1];
  if (first === undefined) throw decodeError(file, 1, 'header needs a timestamp column and at least one series');
  return parsePriceCsv(text, first, file);
}

function readCsvText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (cause) {
    throw new OptiBidError('OPTIBID_ERR_USAGE', `cannot read CSV ${file}: ${(cause as Error).message}`, {
      cause,
      context: { file },
    });
  }
}

/** Reads a CSV shaped like `timestamp,Real price,...` into a PriceTable; errors name file:line. */
export function readPriceCsv(file: string, priceColumn: string): PriceTable {
  return parsePriceCsv(readCsvText(file), priceColumn, file);
}

/** Parses CSV text (see readPriceCsv); `source` names the origin in error messages. */
export function parsePriceCsv(text: string, priceColumn: string, source = '<csv>'): PriceTable {
  const lines = text.split(/\r?\n/);
  const header = splitCsvLine(lines[0] ?? '');
  if (header.length < 2) throw decodeError(source, 1, 'header needs a timestamp column and at least one value column');
  const columnNames = header.slice(1);
  const priceIndex = columnNames.indexOf(priceColumn);
  if (priceIndex < 0) {
    throw new OptiBidError(
      'OPTIBID_ERR_USAGE',
      `${source}:1: no column "${priceColumn}" (columns: ${columnNames.join(', ')})`,
      {
        context: { file: source, line: 1 },
      },
    );
  }
  const timestamps: string[] = [];
  const values: number[][] = columnNames.map(() => []);
  const lineOf: number[] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    if (line.trim() === '') continue;
    const cells = splitCsvLine(line);
    if (cells.length !== header.length)
      throw decodeError(source, i + 1, `expected ${header.length} cells, found ${cells.length}`);
    const ts = cells[0].trim();
    if (!timestampPattern.test(ts))
      throw decodeError(source, i + 1, `bad timestamp "${ts}" (want YYYY-MM-DD HH:MM:SS)`);
    if (timestamps.length > 0 && ts <= timestamps[timestamps.length - 1]) {
      throw decodeError(source, i + 1, `timestamp ${ts} is not after the previous row`);
    }
    for (let c = 0; c < columnNames.length; c++) {
      const cell = cells[c + 1].trim();
      const v = cell === '' ? NaN : Number(cell);
      if (cell !== '' && !Number.isFinite(v))
        throw decodeError(source, i + 1, `column "${columnNames[c]}": "${cell}" is not a number`);
      if (c === priceIndex && cell === '') throw decodeError(source, i + 1, `column "${priceColumn}" is empty`);
      values[c].push(v);
    }
    timestamps.push(ts);
    lineOf.push(i + 1);
  }
  if (timestamps.length === 0) throw decodeError(source, 2, 'no data rows');
  const days: string[] = [];
  const counts: number[] = [];
  for (let r = 0; r < timestamps.length; r++) {
    const d = timestamps[r].slice(0, 10);
    if (days[days.length - 1] !== d) {
      days.push(d);
      counts.push(0);
    }
    counts[counts.length - 1]++;
  }
  const perDay = counts[0];
  if (perDay !== 24 && perDay !== 96)
    throw decodeError(source, 2, `day ${days[0]} has ${perDay} rows; expected 24 (hourly) or 96 (quarter-hourly)`);
  let row = 0;
  for (let d = 0; d < days.length; d++) {
    if (counts[d] !== perDay)
      throw decodeError(source, lineOf[row], `day ${days[d]} has ${counts[d]} rows; every day needs ${perDay}`);
    if (d > 0 && addDays(days[d - 1], 1) !== days[d])
      throw decodeError(source, lineOf[row], `gap in the days: ${days[d - 1]} is followed by ${days[d]}`);
    row += counts[d];
  }
  const columns: Record<string, Float64Array> = {};
  columnNames.forEach((name, c) => (columns[name] = Float64Array.from(values[c])));
  return { source, priceColumn, timestamps, prices: columns[priceColumn], columns, columnNames, perDay, days };
}

/** A numeric column of the table by name; a usage error lists the columns when it is missing. */
export function tableColumn(table: PriceTable, name: string): Float64Array {
  const col = table.columns[name];
  if (!col)
    throw new OptiBidError(
      'OPTIBID_ERR_USAGE',
      `${table.source}: no column "${name}" (columns: ${table.columnNames.join(', ')})`,
    );
  return col;
}

/**
 * `table` with every column of `extra` added, matched row by row by timestamp (e.g. day-ahead load and wind forecasts
 * kept in a file of their own). `extra` may cover more hours than `table`, never fewer: a timestamp of `table`
 * missing from `extra`, an empty cell there, or a column name `table` already has is a usage error naming `extra`'s
 * source and the timestamp, so a forecast never sees a gap filled silently.
 */
export function joinColumns(table: PriceTable, extra: PriceTable): PriceTable {
  const row = new Map(extra.timestamps.map((t, i) => [t, i]));
  const columns = { ...table.columns };
  for (const name of extra.columnNames) {
    if (name in columns)
      throw new OptiBidError('OPTIBID_ERR_USAGE', `${extra.source}: column "${name}" is already in ${table.source}`);
    const from = extra.columns[name]!;
    const to = new Float64Array(table.timestamps.length);
    table.timestamps.forEach((t, i) => {
      const j = row.get(t);
      if (j === undefined)
        throw new OptiBidError('OPTIBID_ERR_USAGE', `${extra.source}: no row for ${t} (${table.source} has one)`);
      if (!Number.isFinite(from[j]!))
        throw new OptiBidError('OPTIBID_ERR_USAGE', `${extra.source}: "${name}" at ${t} is not a number`);
      to[i] = from[j]!;
    });
    columns[name] = to;
  }
  return {
    ...table,
    source: `${table.source} + ${extra.source}`,
    columns,
    columnNames: [...table.columnNames, ...extra.columnNames],
  };
}

/** `YYYY-MM-DD` plus n calendar days. */
export function addDays(date: string, n: number): string {
  const t = Date.parse(`${date}T00:00:00Z`) + n * 86_400_000;
  return new Date(t).toISOString().slice(0, 10);
}

/** Day of week of a `YYYY-MM-DD` date, 0 = Monday .. 6 = Sunday. */
export function dayOfWeek(date: string): number {
  return (new Date(`${date}T00:00:00Z`).getUTCDay() + 6) % 7;
}

function splitCsvLine(line: string): string[] {
  if (!line.includes('"')) return line.split(',');
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cur += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out;
}

function decodeError(file: string, line: number, reason: string): OptiBidError {
  return new OptiBidError('OPTIBID_ERR_DECODE', `${file}:${line}: ${reason}`, { context: { file, line } });
}
