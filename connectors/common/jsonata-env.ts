import jsonata from 'jsonata';
import { OptiBidError } from '@optibid/runtime';
import { localToUtc } from './time.js';

/** Instant (ms) of ISO text; text without a zone is read as wall time in `zone` (default UTC). More than 3 fraction digits are truncated. */
function instant(text: unknown, zone?: string): number | undefined {
  if (text === undefined || text === null || text === '') return undefined;
  if (typeof text === 'number') return text;
  const s = String(text).trim().replace(' ', 'T');
  if (/(Z|[+-]\d\d:?\d\d)$/.test(s)) {
    const ms = Date.parse(s.replace(/(\.\d{3})\d+/, '$1'));
    if (Number.isNaN(ms)) throw new Error(`$instant: "${s}" is not a date`);
    return ms;
  }
  return localToUtc(s.replace(/\.\d+$/, '').slice(0, 19), zone ?? 'UTC');
}

/**
 * Compiles a JSONata expression with OptiBid's helpers bound: `$instant(text, zone?)` → ms UTC
 * (wall times read in `zone`). `where` names the expression's place (file:line) in errors.
 */
export function compileJsonata(expr: string, where: string): jsonata.Expression {
  let compiled: jsonata.Expression;
  try {
    compiled = jsonata(expr);
  } catch (err) {
    const e = err as { message: string; position?: number };
    throw new OptiBidError(
      'OPTIBID_ERR_CONFIG',
      `${where}: JSONata expression does not parse at character ${e.position ?? '?'}: ${e.message}`,
      { context: { file: where } },
    );
  }
  compiled.registerFunction('instant', instant, '<(sn)s?:n>');
  return compiled;
}
