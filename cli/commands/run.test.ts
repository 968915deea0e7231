import { jest } from '@jest/globals';
import { run } from '../program.js';

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
});
