import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { errorCodes, OptiBidError, isOptiBidError } from './errors.js';

describe('error catalogue', () => {
  it('documents every code in runtime/ERRORS.md', () => {
    const doc = readFileSync(fileURLToPath(new URL('./ERRORS.md', import.meta.url)), 'utf8');
    const missing = Object.keys(errorCodes).filter((code) => !doc.includes(`\`${code}\``));
    expect(missing).toEqual([]);
  });

  it('carries code, retriable flag, cause and context', () => {
    const cause = new Error('ECONNREFUSED');
    const err = new OptiBidError('OPTIBID_ERR_NETWORK', 'broker down', {
      retriable: true,
      cause,
      context: { topic: 't' },
    });
    expect(isOptiBidError(err, 'OPTIBID_ERR_NETWORK')).toBe(true);
    expect(isOptiBidError(err, 'OPTIBID_ERR_CONFIG')).toBe(false);
    expect(err.cause).toBe(cause);
    expect(err.toJSON()).toEqual({ code: 'OPTIBID_ERR_NETWORK', message: 'broker down', retriable: true, topic: 't' });
  });
});
