import type { DayAheadModel, DayInput } from './model.js';

/** Averages the forecasts of several models (equal weights unless given); members run on the same input. */
export function ensembleModel(members: DayAheadModel[], name = 'ensemble', weights?: number[]): DayAheadModel {
  const w = weights ?? members.map(() => 1 / members.length);
  let last: Record<string, number[]> = {};
  return {
    name,
    minHistoryDays: Math.max(...members.map((m) => m.minHistoryDays)),
    async forecastDay(input: DayInput): Promise<number[]> {
      const out = new Array<number>(input.perDay).fill(0);
      last = {};
      for (let i = 0; i < members.length; i++) {
        const f = await members[i].forecastDay(input);
        last[members[i].name] = f;
        for (let h = 0; h < input.perDay; h++) out[h] += w[i] * f[h];
      }
      return out;
    },
    memberForecasts: () => last,
  };
}
