import { endpointsFromEnv, endpointVariables } from './endpoints.js';

describe('endpointsFromEnv', () => {
  it('uses the local defaults when nothing is set', () => {
    const e = endpointsFromEnv({});
    expect(e.kafkaBrokers).toEqual([endpointVariables.OPTIBID_KAFKA_BROKERS]);
    expect(e.postgresUrl).toBe(endpointVariables.OPTIBID_PG_URL);
  });

  it('takes overrides from the environment and trims them', () => {
    const e = endpointsFromEnv({ OPTIBID_KAFKA_BROKERS: ' a:1, b:2 ,', OPTIBID_CLICKHOUSE_URL: 'http://ch:8123/' });
    expect(e.kafkaBrokers).toEqual(['a:1', 'b:2']);
    expect(e.clickhouseUrl).toBe('http://ch:8123');
  });
});
