import type { StreamRecord } from '@optibid/runtime';
import type { AlertEvent } from '@optibid/schemas';

/** Reads an `alerts.events` value; returns the reason when it is not one. */
export function parseAlert(record: StreamRecord): AlertEvent | string {
  const v = record.value as Partial<AlertEvent> | null;
  if (v === null || typeof v !== 'object')
    return `alert value must be an object, got ${v === null ? 'null' : typeof v}`;
  for (const field of ['alertId', 'rule', 'state', 'severity'] as const) {
    if (typeof v[field] !== 'string' || v[field] === '') return `alert ${field} must be a non-empty string`;
  }
  if (typeof v.occurredAt !== 'number' || !Number.isFinite(v.occurredAt))
    return 'alert occurredAt must be a timestamp in ms';
  return {
    alertId: v.alertId!,
    rule: v.rule!,
    severity: v.severity!,
    state: v.state!,
    resource: typeof v.resource === 'string' ? v.resource : '',
    message: typeof v.message === 'string' ? v.message : '',
    value: typeof v.value === 'number' ? v.value : null,
    threshold: typeof v.threshold === 'number' ? v.threshold : null,
    unit: typeof v.unit === 'string' ? v.unit : null,
    occurredAt: v.occurredAt,
    emittedAt: typeof v.emittedAt === 'number' ? v.emittedAt : v.occurredAt,
    labels: v.labels && typeof v.labels === 'object' ? v.labels : {},
  };
}

/** One line for subjects and chat: `[CRITICAL] FIRING price-spike-be on EPEX/BE`. */
export function alertTitle(a: AlertEvent): string {
  return `[${a.severity}] ${a.state} ${a.rule}${a.resource ? ` on ${a.resource}` : ''}`;
}

/** A few lines of plain text: title, message, value against threshold, time and labels. */
export function alertText(a: AlertEvent): string {
  const lines = [alertTitle(a)];
  if (a.message) lines.push(a.message);
  if (a.value !== null)
    lines.push(
      `value: ${a.value}${a.unit ? ` ${a.unit}` : ''}${a.threshold !== null ? ` (threshold ${a.threshold}${a.unit ? ` ${a.unit}` : ''})` : ''}`,
    );
  lines.push(`at: ${new Date(a.occurredAt).toISOString()}`);
  const labels = Object.entries(a.labels);
  if (labels.length > 0) lines.push(`labels: ${labels.map(([k, v]) => `${k}=${v}`).join(', ')}`);
  return lines.join('\n');
}

/** Identifies one delivery of one alert transition; receivers can deduplicate on it. */
export function deliveryId(a: AlertEvent): string {
  return `${a.alertId}:${a.state}:${a.occurredAt}`;
}
