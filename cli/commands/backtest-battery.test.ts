import { jest } from '@jest/globals';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readPriceCsv } from '@optibid/processors/forecast/index.js';
import { backtestBattery } from '@optibid/processors/bidding/backtest.js';
import { run } from '../program.js';
import { shapeBiasRules } from './backtest-battery.js';

const csv = fileURLToPath(new URL('../../processors/bidding/fixtures/be-2016-02.csv', import.meta.url));

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const write = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += chunk.toString();
    return true;
  });
  const error = jest.spyOn(console, 'error').mockImplementation((...a: unknown[]) => {
    err += a.join(' ') + '\n';
  });
  try {
    const code = await run(['node', 'optibid', 'backtest', 'battery', ...args]);
    return { code, out, err };
  } finally {
    write.mockRestore();
    error.mockRestore();
  }
}

describe('optibid backtest battery', () => {
  it('prints perfect_foresight, realized and capture as top-level JSON keys', async () => {
    const { code, out } = await cli(
      '--csv',
      csv,
      '--forecast-model',
      'column:LEAR Ensemble',
      '--eval-from',
      '2016-02-04',
      '--eval-to',
      '2016-02-10',
      '--json',
    );
    expect(code).toBe(0);
    const r = JSON.parse(out);
    expect(r.days).toBe(7);
    expect(r.eval_from).toBe('2016-02-04');
    expect(r.eval_to).toBe('2016-02-10');
    expect(r.perfect_foresight).toBeGreaterThan(0);
    expect(r.realized).toBeLessThanOrEqual(r.perfect_foresight);
    expect(r.capture).toBeCloseTo(r.realized / r.perfect_foresight, 12);
    expect(r.daily).toBeUndefined();
  });

  it('captures everything when the forecast is the real price, and less with a bigger battery on a noisy forecast', async () => {
    const exact = JSON.parse(
      (await cli('--csv', csv, '--forecast-model', 'column:Real price', '--eval-from', '2016-02-01', '--json')).out,
    );
    expect(exact.capture).toBeCloseTo(1, 12);
    const small = JSON.parse(
      (await cli('--csv', csv, '--forecast-model', 'naive-daily', '--eval-from', '2016-02-01', '--json')).out,
    );
    const big = JSON.parse(
      (
        await cli(
          '--csv',
          csv,
          '--forecast-model',
          'naive-daily',
          '--eval-from',
          '2016-02-01',
          '--energy-mwh',
          '4',
          '--json',
        )
      ).out,
    );
    expect(big.perfect_foresight).toBeGreaterThan(small.perfect_foresight);
    expect(small.capture).toBeLessThan(1);
  });

  it('reports capture as undefined with the reason when perfect foresight earns nothing (--max-cycles 0)', async () => {
    const json = await cli(
      '--csv',
      csv,
      '--forecast-model',
      'naive-daily',
      '--eval-from',
      '2016-02-20',
      '--max-cycles',
      '0',
      '--json',
    );
    expect(json.code).toBe(0);
    const r = JSON.parse(json.out);
    expect(r.perfect_foresight).toBe(0);
    expect(r.capture).toBeNull();
    expect(r.capture_undefined).toMatch(/nothing to capture/);
    const text = await cli(
      '--csv',
      csv,
      '--forecast-model',
      'naive-daily',
      '--eval-from',
      '2016-02-20',
      '--max-cycles',
      '0',
      '--daily',
    );
    expect(text.out).toMatch(/^capture\s+undefined: perfect foresight earns 0 .*nothing to capture/m);
    expect(text.out).toMatch(/^2016-02-21 .* n\/a$/m);
    expect(text.out).not.toMatch(/0\.0000/);
  });

  it('prints a readable summary and per-day lines', async () => {
    const { code, out } = await cli(
      '--csv',
      csv,
      '--forecast-model',
      'column:LEAR Ensemble',
      '--eval-from',
      '2016-02-20',
      '--daily',
    );
    expect(code).toBe(0);
    expect(out).toMatch(/^2016-02-21 /m);
    expect(out).toMatch(/^capture\s+\d\.\d{4}$/m);
    expect(out).toMatch(/^days\s+3 \(2016-02-20 \.\. 2016-02-22\)$/m);
  });

  it('rejects bad arguments with a clear message', async () => {
    const eff = await cli('--csv', csv, '--eval-from', '2016-02-10', '--charge-eff', '1.5');
    expect(eff.code).toBe(1);
    expect(eff.err).toMatch(/--charge-eff must be in \(0, 1\], got 1.5/);
    const model = await cli('--csv', csv, '--eval-from', '2016-02-10', '--forecast-model', 'crystal-ball');
    expect(model.code).toBe(1);
    expect(model.err).toMatch(/unknown forecast model "crystal-ball"/);
    const column = await cli('--csv', csv, '--eval-from', '2016-02-10', '--forecast-model', 'column:Nope');
    expect(column.err).toMatch(/no column "Nope"/);
    const date = await cli('--csv', csv, '--eval-from', '2019-01-01');
    expect(date.err).toMatch(/--eval-from 2019-01-01 is not a day/);
    const holidays = await cli('--csv', csv, '--eval-from', '2016-02-10', '--holidays', 'Atlantis');
    expect(holidays.code).toBe(1);
    expect(holidays.err).toMatch(/unknown holiday calendar "Atlantis": use one of US, NERC, NORDIC, BE/);
    const rule = await cli('--csv', csv, '--eval-from', '2016-02-10', '--shape-bias', 'vibes');
    expect(rule.code).toBe(1);
    expect(rule.err).toMatch(/--shape-bias must be one of off, shape, swing, got "vibes"/);
    const exog = await cli(
      '--csv',
      csv,
      '--eval-from',
      '2016-02-10',
      '--forecast-model',
      'lear',
      '--exog',
      'Load, Wind',
    );
    expect(exog.code).toBe(1);
    expect(exog.err).toMatch(/no column "Load" \(columns: Real price, DNN 1/);
  });

  it('with --shape-bias, schedules on a forecast corrected for the bias the delivered days showed', async () => {
    // The real prices with a fixed hour-of-day distortion: night hours look dear, the evening peak looks cheap.
    const lines = readFileSync(csv, 'utf8').trim().split('\n').slice(1);
    const bias = (hour: number) => (hour >= 2 && hour <= 5 ? 25 : hour >= 17 && hour <= 20 ? -25 : 0);
    const biased = join(mkdtempSync(join(tmpdir(), 'optibid-shape-')), 'biased.csv');
    const rows = lines.map((l) => {
      const [ts, real] = l.split(',');
      return `${ts},${real},${Number(real) + bias(Number(ts!.slice(11, 13)))}`;
    });
    writeFileSync(biased, ['timestamp,Real price,Biased', ...rows].join('\n') + '\n');
    const args = ['--csv', biased, '--forecast-model', 'column:Biased', '--eval-from', '2016-02-01', '--json'];
    const plain = JSON.parse((await cli(...args)).out);
    expect(plain.shape_bias).toBe('off');
    const table = readPriceCsv(biased, 'Real price');
    const battery = {
      powerMw: 1,
      energyMwh: 2,
      chargeEfficiency: 0.95,
      dischargeEfficiency: 0.95,
      degradationCostPerMwh: 0,
    };
    for (const rule of ['shape', 'swing'] as const) {
      const result = JSON.parse((await cli(...args, '--shape-bias', rule)).out);
      expect(result.shape_bias).toBe(rule);
      expect(result.perfect_foresight).toBeCloseTo(plain.perfect_foresight, 9); // the real prices do not move
      // once it has seen enough days, the correction undoes the distortion: far more of the spread is captured
      expect(result.capture).toBeGreaterThan(plain.capture + 0.2);
      const direct = await backtestBattery({
        table,
        model: 'column:Biased',
        evalFrom: '2016-02-01',
        battery,
        shapeBias: shapeBiasRules[rule],
      });
      expect(result.realized).toBeCloseTo(direct.realized, 9);
    }
    const text = await cli(
      '--csv',
      biased,
      '--forecast-model',
      'column:Biased',
      '--eval-from',
      '2016-02-20',
      '--shape-bias',
      'shape',
    );
    expect(text.out).toMatch(/^model\s+column:Biased \(scheduled with --shape-bias shape\)$/m);
  });

  it('--exog-csv joins a file of fundamentals by timestamp and hands its columns to the model, as --exog does', async () => {
    // 40 days whose peak hour follows a load forecast that moves at random; prices and load in two files.
    let seed = 3;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const prices = ['timestamp,Real price'];
    const loads = ['timestamp,Load forecast'];
    const both = ['timestamp,Real price,Load forecast'];
    for (let d = 0; d < 40; d++) {
      const peak = 6 + Math.floor(rand() * 15);
      const date = new Date(Date.UTC(2021, 2, 1 + d)).toISOString().slice(0, 10);
      for (let h = 0; h < 24; h++) {
        const ts = `${date} ${String(h).padStart(2, '0')}:00:00`;
        const load = (1000 + 600 * Math.exp(-((h - peak) ** 2) / 3) + 40 * rand()).toFixed(0);
        const price = (0.05 * Number(load) - 20 + 2 * rand()).toFixed(2);
        prices.push(`${ts},${price}`);
        loads.push(`${ts},${load}`);
        both.push(`${ts},${price},${load}`);
      }
    }
    const dir = mkdtempSync(join(tmpdir(), 'optibid-exog-'));
    const write = (name: string, rows: string[]) => {
      writeFileSync(join(dir, name), rows.join('\n') + '\n');
      return join(dir, name);
    };
    const [p, l, b] = [write('prices.csv', prices), write('load.csv', loads), write('both.csv', both)];
    const args = ['--forecast-model', 'lear', '--eval-from', '2021-04-08', '--json'];
    const joined = JSON.parse((await cli('--csv', p, '--exog-csv', l, ...args)).out);
    const oneFile = JSON.parse((await cli('--csv', b, '--exog', 'Load forecast', ...args)).out);
    const pricesOnly = JSON.parse((await cli('--csv', p, ...args)).out);
    expect(joined.realized).toBeCloseTo(oneFile.realized, 9);
    expect(joined.capture).toBeGreaterThan(pricesOnly.capture + 0.3);
    // A load file that misses an hour of the prices is refused, naming the file and the hour.
    const short = write('short.csv', loads.slice(0, -24));
    const missing = await cli('--csv', p, '--exog-csv', short, ...args);
    expect(missing.code).toBe(1);
    expect(missing.err).toContain(`${short}: no row for 2021-04-09 00:00:00`);
  });
});
