import { jest } from '@jest/globals';
import { Command } from 'commander';
import { run } from '../program.js';
import { groupOptions, parseStallWarnMs, registerRun } from './run.js';

/** Runs `optibid run ...` in-process; returns the exit code and what went to stderr. */
async function cli(...args: string[]): Promise<{ code: number; err: string }> {
  let err = '';
  const error = jest.spyOn(console, 'error').mockImplementation((...a: unknown[]) => {
    err += `${a.join(' ')}\n`;
  });
  try {
    return { code: await run(['node', 'optibid', 'run', 'pipelines/demo.yaml', '--until-idle', ...args]), err };
  } finally {
    error.mockRestore();
  }
}

describe('optibid run option checks', () => {
  it.each([['abc'], ['0'], ['-1'], ['']])(
    'refuses --status-interval %j naming the option, before starting anything',
    async (v) => {
      const { code, err } = await cli('--status-interval', v);
      expect(code).toBe(1);
      expect(err).toContain(`optibid: --status-interval must be a positive number of seconds, got "${v}"`);
    },
  );

  it.each([['abc'], ['70000'], ['80.5'], ['-1']])('refuses --metrics-port %j naming the option', async (v) => {
    const { code, err } = await cli('--metrics-port', v);
    expect(code).toBe(1);
    expect(err).toContain(`optibid: --metrics-port must be a port number (0-65535), got "${v}"`);
  });

  it.each([['abc'], ['-1'], ['1.5'], ['']])('refuses --stall-warn-ms %j naming the option', async (v) => {
    const { code, err } = await cli('--stall-warn-ms', v);
    expect(code).toBe(1);
    expect(err).toContain(
      `optibid: --stall-warn-ms must be a whole number of milliseconds (0 turns the check off), got "${v}"`,
    );
  });

  it.each([
    ['0', 0],
    ['2500', 2500],
    ['60000', 60000],
  ])('reads --stall-warn-ms %j as %d ms', (v, ms) => {
    expect(parseStallWarnMs(v)).toBe(ms);
  });

  it('documents --stall-warn-ms with its default in --help', () => {
    const program = new Command();
    registerRun(program);
    const help = program.commands.find((c) => c.name() === 'run')!.helpInformation();
    expect(help).toMatch(
      /--stall-warn-ms <ms>[\s\S]*consumer stalled[\s\S]*0 turns the check off\s+\(default:\s+"60000"\)/,
    );
  });

  it.each([['abc'], ['0'], ['-5'], ['1.5'], ['']])(
    'refuses --session-timeout-ms %j naming the option, before starting anything',
    async (v) => {
      const { code, err } = await cli('--transport', 'kafka', '--session-timeout-ms', v);
      expect(code).toBe(1);
      expect(err).toContain(
        `optibid: --session-timeout-ms must be a positive whole number of milliseconds, got "${v}"`,
      );
    },
  );

  it('refuses --max-poll-interval-ms on the kafka transport and below the session timeout', async () => {
    const kafka = await cli('--transport', 'kafka', '--max-poll-interval-ms', '600000');
    expect(kafka.code).toBe(1);
    expect(kafka.err).toContain('optibid: --max-poll-interval-ms applies to --transport rdkafka only');
    const low = await cli('--transport', 'rdkafka', '--session-timeout-ms', '45000', '--max-poll-interval-ms', '30000');
    expect(low.code).toBe(1);
    expect(low.err).toContain(
      'optibid: --max-poll-interval-ms (30000) must be at least the session timeout (45000 ms)',
    );
    expect(() => groupOptions({ stallWarnMs: '0', maxPollIntervalMs: '9000' }, 'rdkafka')).toThrow(
      'at least the session timeout (10000 ms)',
    );
  });

  it('passes the group settings given, and only those, to the Kafka transports', () => {
    expect(groupOptions({ stallWarnMs: '60000' }, 'kafka')).toEqual({ stallWarnMs: 60000 });
    expect(groupOptions({ stallWarnMs: '0', sessionTimeoutMs: '45000' }, 'kafka')).toEqual({
      stallWarnMs: 0,
      sessionTimeoutMs: 45000,
    });
    expect(
      groupOptions({ stallWarnMs: '5000', sessionTimeoutMs: '30000', maxPollIntervalMs: '900000' }, 'rdkafka'),
    ).toEqual({ stallWarnMs: 5000, sessionTimeoutMs: 30000, maxPollIntervalMs: 900000 });
  });
});
