import { parseClockTime } from './duration.js';
import type { MaintenanceWindowSpec, SilenceSpec } from './rules-schema.js';
import { localParts } from '@optibid/runtime';

const weekdays = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

function matchLabels(
  labels: Record<string, string>,
  eq?: Record<string, string>,
  re?: Record<string, string>,
): boolean {
  for (const [k, v] of Object.entries(eq ?? {})) if (labels[k] !== v) return false;
  for (const [k, r] of Object.entries(re ?? {})) if (!new RegExp(`^(?:${r})$`).test(labels[k] ?? '')) return false;
  return true;
}

/** True when `at` falls in a recurring maintenance window (wall time in its zone; windows may cross midnight). */
export function inMaintenance(w: MaintenanceWindowSpec, at: number): boolean {
  if (w.expiresAt !== undefined && at >= Date.parse(w.expiresAt)) return false;
  const p = localParts(w.timeZone, at);
  const minute = p.hour * 60 + p.minute;
  const start = parseClockTime(w.start)!;
  const end = parseClockTime(w.end)!;
  const dayOk = (weekday: number) => !w.days || w.days.includes(weekdays[weekday]);
  if (start < end) return minute >= start && minute < end && dayOk(p.weekday);
  // Crosses midnight: the evening part belongs to today's window, the morning part to yesterday's.
  if (minute >= start) return dayOk(p.weekday);
  if (minute < end) return dayOk((p.weekday + 6) % 7);
  return false;
}

/** Silences (one-off, with expiry) and maintenance windows (recurring, optional expiry) that mute notifications. */
export class Silencer {
  private readonly silences: Array<SilenceSpec & { from: number; until: number }>;

  constructor(
    silences: SilenceSpec[],
    private readonly windows: MaintenanceWindowSpec[],
  ) {
    this.silences = silences.map((s) => ({ ...s, from: Date.parse(s.startsAt), until: Date.parse(s.endsAt) }));
  }

  /** What mutes an alert with these labels at `at` (`silence:<id>` or `maintenance:<name>`), or undefined. */
  mutedBy(labels: Record<string, string>, at: number): string | undefined {
    for (const [i, s] of this.silences.entries()) {
      if (at >= s.from && at < s.until && matchLabels(labels, s.matchers, s.matchersRe))
        return `silence:${s.id ?? i + 1}`;
    }
    for (const w of this.windows) {
      if (matchLabels(labels, w.matchers, w.matchersRe) && inMaintenance(w, at)) return `maintenance:${w.name}`;
    }
    return undefined;
  }
}
