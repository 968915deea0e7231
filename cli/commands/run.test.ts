import { jest } from '@jest/globals';
import { Command } from 'commander';
import { run } from '../program.js';
import { parseStallWarnMs, registerRun } from './run.js';

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
});
