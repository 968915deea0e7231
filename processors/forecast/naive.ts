import type { DayAheadModel, DayInput } from './model.js';

/** Same interval `lagDays` days before (1: `naive-daily`, 7: `naive-weekly`). */
export function naiveModel(lagDays: 1 | 7): DayAheadModel {
  return {
    name: lagDays === 1 ? 'naive-daily' : 'naive-weekly',
    minHistoryDays: lagDays,
    forecastDay({ history, perDay }: DayInput): number[] {
      const start = history.length - lagDays * perDay;
      return Array.from(history.subarray(start, start + perDay));
    },
  };
}
