import type { StreamRecord } from '@optibid/runtime';
import type { AlertEvent } from '@optibid/schemas';

/** An `alerts.events` record for tests. */
export function alertRecord(overrides: Partial<AlertEvent> = {}, offset = '0'): StreamRecord<AlertEvent> {
  const value: AlertEvent = {
    alertId: 'price-spike-be:EPEX/BE',
    rule: 'price-spike-be',
    severity: 'CRITICAL',
    state: 'FIRING',
    resource: 'EPEX/BE',
    message: 'Day-ahead price 412.50 EUR/MWh above 300 EUR/MWh',
    value: 412.5,
    threshold: 300,
    unit: 'EUR/MWh',
    occurredAt: Date.UTC(2024, 5, 3, 10),
    emittedAt: Date.UTC(2024, 5, 3, 10, 0, 1),
    labels: { market: 'EPEX', area: 'BE' },
    ...overrides,
  };
  return { topic: 'alerts.events', key: value.alertId, value, timestamp: value.occurredAt, partition: 0, offset };
}
