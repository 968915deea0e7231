import { serverProperties, newClusterId } from './kafka.js';
import { clickhouseConfig } from './clickhouse.js';

describe('service configs', () => {
  it('Kafka runs one KRaft node as broker and controller on loopback', () => {
    const props = Object.fromEntries(
      serverProperties({ host: '127.0.0.1', port: 9092, controllerPort: 9093, dataDir: '/d' })
        .split('\n')
        .filter(Boolean)
        .map((l) => l.split('=', 2) as [string, string]),
    );
    expect(props['process.roles']).toBe('broker,controller');
    expect(props['controller.quorum.voters']).toBe('1@127.0.0.1:9093');
    expect(props['listeners']).toBe('PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093');
    expect(props['transaction.state.log.replication.factor']).toBe('1');
    expect(props['log.dirs']).toBe('/d');
    // records with old event-time timestamps (replays, fixtures, the bench) are kept: size retention only
    expect(props['log.retention.ms']).toBe('-1');
    expect(props['log.retention.hours']).toBeUndefined();
    expect(props['log.retention.bytes']).toBe(String(1024 ** 3));
  });

  it('Kafka cluster ids are 22-character base64url', () => {
    const id = newClusterId();
    expect(id).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(newClusterId()).not.toBe(id);
  });

  it('ClickHouse listens on loopback with data under the service folder', () => {
    const xml = clickhouseConfig({
      dir: '/h/clickhouse',
      logDir: '/h/logs',
      host: '127.0.0.1',
      httpPort: 8123,
      tcpPort: 9000,
    });
    expect(xml).toContain('<listen_host>127.0.0.1</listen_host>');
    expect(xml).toContain('<http_port>8123</http_port>');
    expect(xml).toContain('<path>/h/clickhouse/data/</path>');
    expect(xml).toContain('<log>/h/logs/clickhouse-server.log</log>');
  });
});
