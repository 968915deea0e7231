import { OptiBidError } from '@optibid/runtime';
import { asText, looksLikeHtml, type Payload } from './payload.js';

/** True for HTTP statuses worth retrying: 408, 425, 429 and 5xx. */
export function retriableStatus(status: number): boolean {
  return status === 408 || status === 425 || status === 429 || status >= 500;
}

/** Throws an upstream error for a 4xx/5xx payload, quoting the start of the body (HTML reduced to its title). */
export function refuseErrorStatus(p: Payload, detail?: string): void {
  if (p.status === undefined || p.status < 400) return;
  const text = asText(p.body);
  const snippet =
    detail ??
    (looksLikeHtml(text)
      ? (/<title[^>]*>([^<]*)</i.exec(text)?.[1] ?? 'HTML page')
      : text.trim().slice(0, 200) || 'empty body');
  throw new OptiBidError('OPTIBID_ERR_UPSTREAM', `${p.where}: HTTP ${p.status}: ${snippet}`, {
    retriable: retriableStatus(p.status),
    context: { file: p.where, status: p.status },
  });
}
