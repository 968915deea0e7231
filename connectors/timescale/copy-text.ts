import type { Cell, ColumnSpec } from './datasets.js';

/** Escapes a value for PostgreSQL's COPY text format. */
function escape(s: string): string {
  return /[\\\t\n\r]/.test(s)
    ? s.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r')
    : s;
}

/** Encodes rows for `COPY ... FROM STDIN` (text format): tab-separated, `\N` for null, timestamps as ISO-8601 UTC. */
export function copyText(columns: ColumnSpec[], rows: Cell[][]): string {
  const isTime = columns.map((c) => c.type === 'timestamp');
  const isText = columns.map((c) => c.type === 'text' || c.type === 'json');
  // Timestamps repeat a lot within a batch (one delivery interval for every area, one poll for every
  // device): format each distinct value once.
  const iso = new Map<number, string>();
  let out = '';
  for (const row of rows) {
    for (let i = 0; i < row.length; i++) {
      const v = row[i];
      if (i > 0) out += '\t';
      if (v === null) out += '\\N';
      else if (isTime[i]) {
        let t = iso.get(v as number);
        if (t === undefined) iso.set(v as number, (t = new Date(v as number).toISOString()));
        out += t;
      } else if (isText[i]) out += escape(v as string);
      else out += String(v);
    }
    out += '\n';
  }
  return out;
}
