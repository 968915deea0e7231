import { jest } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import mqtt from 'mqtt';
import {
  MemoryTransport,
  OptiBidError,
  makeSpec,
  type Logger,
  type MemoryRunningPipeline,
  type StreamRecord,
} from '@optibid/runtime';
import { mqttSource, type MqttConfig } from './source.js';
import { makeTestPki, type TestPki } from './testing/pki.js';
import { mosquittoPasswdBinary, writePasswordFile } from './testing/passwd.js';
import { startSecureBroker, type SecureBroker } from './testing/secure-broker.js';
import type { TelemetryReading } from '../common/records.js';

// A private Mosquitto (not the shared one on 1883): TLS with passwords, and TLS with client certificates.
// Every source runs as `optibid run` runs it: the mqtt component in a pipeline on the memory transport.

jest.setTimeout(60_000);

const run = `sec${process.pid}x${Date.now().toString(36)}`;
const secret = (tag: string) => `${tag}-${randomBytes(12).toString('base64url')}`;
const passwords = { 'site-a': secret('SiteA'), publisher: secret('Pub'), battery: secret('Bat') };
const wrongPassword = secret('Wrong');

let dir: string;
let pki: TestPki;
let broker: SecureBroker;
let passwordFile: string;
let hashedBy: Record<string, string>;
let publisher: mqtt.MqttClient;
const tlsUrl = () => `mqtts://127.0.0.1:${broker.tlsPort}`;
const mtlsUrl = () => `mqtts://127.0.0.1:${broker.mtlsPort}`;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'optibid-mqtt-tls-'));
  pki = await makeTestPki(dir);
  passwordFile = join(dir, 'passwd');
  // The publisher's line is always hashed in Node: its login proves the fallback format against the broker.
  hashedBy = writePasswordFile(passwordFile, passwords, ['publisher']);
  // As on a fleet broker, the connector's users may read this run's topics only (Mosquitto's acl_file still
  // grants any subscription and filters deliveries, so a denied filter cannot be tested here).
  const aclFile = join(dir, 'acl');
  writeFileSync(
    aclFile,
    ['site-a', 'battery', pki.clientName].map((u) => `user ${u}\ntopic read ${run}/#\n`).join('\n') +
      '\nuser publisher\ntopic readwrite #\n',
  );
  broker = await startSecureBroker(dir, passwordFile, pki, { aclFile });
  publisher = await mqtt.connectAsync(tlsUrl(), {
    clientId: `pub-${run}`,
    username: 'publisher',
    password: passwords.publisher,
    ca: readFileSync(pki.caFile),
    reconnectPeriod: 0,
  });
});

afterAll(async () => {
  await publisher?.endAsync(true);
  await broker?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** A logger that keeps every line as text, errors and causes included, like a log file would. */
function captureLogger(): { logger: Logger; text(): string } {
  const lines: string[] = [];
  const make = (bindings: object): Logger & { child(b: object): Logger } => {
    const at = (level: string) => (obj: object | string, msg?: string) =>
      void lines.push(
        `${level} ${msg ?? ''} ${inspect({ ...bindings, ...(typeof obj === 'string' ? { msg: obj } : obj) }, { depth: 8 })}`,
      );
    return {
      debug: at('debug'),
      info: at('info'),
      warn: at('warn'),
      error: at('error'),
      child: (b: object) => make({ ...bindings, ...b }),
    };
  };
  return { logger: make({}), text: () => lines.join('\n') };
}

interface Started {
  transport: MemoryTransport;
  pipeline: MemoryRunningPipeline;
  log: ReturnType<typeof captureLogger>;
}

let pipelines = 0;
async function start(config: MqttConfig, env: NodeJS.ProcessEnv = {}): Promise<Started> {
  const log = captureLogger();
  const transport = new MemoryTransport();
  const spec = makeSpec({
    name: `mqtt-secure-${++pipelines}`,
    sources: [{ name: 'site-a', definition: mqttSource, config }],
  });
  const pipeline = await transport.start(spec, { logger: log.logger, env });
  return { transport, pipeline, log };
}

/** Waits (on the memory broker's appends) until `until` holds for the readings; fails if the run ends first. */
async function readings(
  s: Started,
  until: (r: TelemetryReading[]) => boolean,
  timeoutMs = 15_000,
): Promise<TelemetryReading[]> {
  const ended = s.pipeline.done.then(
    () => new Error('the pipeline ended'),
    (err: Error) => err,
  );
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const got = s.transport.broker.records('telemetry.readings').map((r: StreamRecord) => r.value as TelemetryReading);
    if (until(got)) return got;
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      s.transport.broker.changed().then(() => undefined),
      ended,
      new Promise<Error>((resolve) => {
        timer = setTimeout(
          () => resolve(new Error(`no matching readings within ${timeoutMs} ms: ${JSON.stringify(got)}`)),
          Math.max(0, deadline - Date.now()),
        );
      }),
    ]);
    clearTimeout(timer);
    if (outcome) throw outcome;
  }
}

/** The error the run failed with; fails the test if it is still running after `timeoutMs` (a retry loop). */
async function failure(s: Started, timeoutMs = 20_000): Promise<OptiBidError> {
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    s.pipeline.done.then(
      () => new Error('the pipeline ended without an error'),
      (err: unknown) => err,
    ),
    new Promise<Error>((resolve) => {
      timer = setTimeout(
        () => resolve(new Error(`still running after ${timeoutMs} ms (retrying?); log:\n${s.log.text()}`)),
        timeoutMs,
      );
    }),
  ]);
  clearTimeout(timer);
  if (!(outcome instanceof OptiBidError)) {
    await s.pipeline.stop();
    throw outcome;
  }
  return outcome;
}

const sensor = (power: number) =>
  JSON.stringify({ Time: '2026-03-01T12:00:00', ENERGY: { Power: power, Voltage: 230 } });
const count = (text: string, needle: string) => text.split(needle).length - 1;

function siteConfig(area: string, extra: Partial<MqttConfig> = {}): MqttConfig {
  return {
    url: tlsUrl(),
    clientId: `optibid-${run}-${area}`,
    cleanSession: true,
    usernameEnv: 'SITE_A_USER',
    passwordEnv: 'SITE_A_PASSWORD',
    tls: { caFile: pki.caFile },
    topics: [
      { filter: `${run}/${area}/tele/+/SENSOR`, qos: 1, decoder: 'tasmota', timeZone: 'Europe/Brussels' },
      {
        filter: `${run}/${area}/sites/+/telemetry`,
        qos: 2,
        decoder: 'json',
        mapping: '{"assetId": $levels[3], "metric": "state_of_charge", "value": soc, "unit": "%"}',
      },
    ],
    ...extra,
  };
}

const siteEnv = (password: string) => ({ SITE_A_USER: 'site-a', SITE_A_PASSWORD: password });

describe('MQTT source over TLS with credentials, against a real Mosquitto', () => {
  test('the password file: mosquitto_passwd when installed, else the same PBKDF2-SHA512 format written in Node', () => {
    expect(hashedBy.publisher).toBe('node');
    expect(hashedBy['site-a']).toBe(mosquittoPasswdBinary() ? 'mosquitto_passwd' : 'node');
    const lines = readFileSync(passwordFile, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(3);
    for (const line of lines) expect(line).toMatch(/^[a-z-]+:\$7\$101\$[A-Za-z0-9+/]{16}\$[A-Za-z0-9+/]{86}==$/);
    // the broker took the Node-hashed line: the publisher logged in over TLS in beforeAll
    expect(publisher.connected).toBe(true);
  });

  test('TLS + the right credentials: telemetry published over TLS arrives as decoded readings', async () => {
    // A retained message reaches the source whenever it subscribes: no race with the subscription.
    await publisher.publishAsync(`${run}/ok/tele/inverter-7/SENSOR`, sensor(4200), { qos: 1, retain: true });
    const s = await start(siteConfig('ok'), siteEnv(passwords['site-a']));
    try {
      await readings(s, (r) => r.some((x) => x.assetId === 'inverter-7'));
      await publisher.publishAsync(`${run}/ok/sites/bess-2/telemetry`, JSON.stringify({ soc: 61.5 }), { qos: 2 });
      const got = await readings(s, (r) => r.some((x) => x.assetId === 'bess-2'));
      expect(got.find((x) => x.assetId === 'inverter-7' && x.metric === 'active_power')).toMatchObject({
        value: 4200,
        unit: 'W',
        observedAt: Date.parse('2026-03-01T11:00:00Z'),
        origin: `${run}/ok/tele/inverter-7/SENSOR`,
      });
      expect(got.find((x) => x.assetId === 'bess-2')).toMatchObject({
        metric: 'state_of_charge',
        value: 61.5,
        unit: '%',
      });
      // the broker saw this client log in as site-a (not anonymously: the broker refuses anonymous clients)
      expect(broker.log()).toContain(`as optibid-${run}-ok (p2, c1, k60, u'site-a')`);
      expect(s.log.text()).not.toContain(passwords['site-a']);
    } finally {
      await s.pipeline.stop();
      await publisher.publishAsync(`${run}/ok/tele/inverter-7/SENSOR`, '', { qos: 1, retain: true });
    }
  });

  test('a wrong password fails the run once, clearly (broker and "not authorized"), with no secret in the error or logs', async () => {
    const before = count(broker.log(), 'disconnected, not authorised');
    const s = await start(siteConfig('wrong'), siteEnv(wrongPassword));
    const err = await failure(s);
    expect(err.code).toBe('OPTIBID_ERR_CONFIG');
    expect(err.message).toContain(`broker mqtts://127.0.0.1:${broker.tlsPort} refused the connection: not authorized`);
    expect(err.message).toContain('password from SITE_A_PASSWORD');
    await broker.waitForLog('disconnected, not authorised', before + 1);
    // one refused attempt, not a reconnect loop
    expect(count(broker.log(), 'disconnected, not authorised') - before).toBe(1);
    const logged = s.log.text();
    expect(logged).toContain('not authorized');
    for (const text of [err.message, String(err.cause), inspect(err, { depth: 8 }), logged]) {
      expect(text).not.toContain(wrongPassword);
      expect(text).not.toContain(passwords['site-a']);
    }
  });

  test('no credentials at all: "not authorized", saying none are configured', async () => {
    const s = await start(siteConfig('anon', { usernameEnv: undefined, passwordEnv: undefined }));
    const err = await failure(s);
    expect(err.message).toMatch(
      /refused the connection: not authorized \(no credentials configured: set usernameEnv and passwordEnv/,
    );
  });

  test('an untrusted broker certificate (no caFile, rejectUnauthorized default) is a clear TLS error', async () => {
    const s = await start(siteConfig('noca', { tls: undefined }), siteEnv(passwords['site-a']));
    const err = await failure(s);
    expect(err.code).toBe('OPTIBID_ERR_CONFIG');
    expect(err.message).toMatch(
      new RegExp(
        `^mqtt: TLS handshake with mqtts://127\\.0\\.0\\.1:${broker.tlsPort} failed: the broker's certificate is not trusted \\(self-signed certificate in certificate chain\\); set tls\\.caFile`,
      ),
    );
    expect(s.log.text()).not.toContain(passwords['site-a']);
  });

  test('a caFile of another CA is not trusted either, and the error names that file', async () => {
    const s = await start(siteConfig('otherca', { tls: { caFile: pki.otherCaFile } }), siteEnv(passwords['site-a']));
    const err = await failure(s);
    expect(err.message).toContain(`the broker's certificate is not trusted`);
    expect(err.message).toContain(`tls.caFile ${pki.otherCaFile} is not the CA that signed it`);
  });

  test('rejectUnauthorized false connects to the untrusted broker, with a warning in the log', async () => {
    await publisher.publishAsync(`${run}/insecure/tele/meter-1/SENSOR`, sensor(17), { qos: 1, retain: true });
    const s = await start(siteConfig('insecure', { tls: { rejectUnauthorized: false } }), siteEnv(passwords['site-a']));
    try {
      const got = await readings(s, (r) => r.some((x) => x.assetId === 'meter-1'));
      expect(got.find((x) => x.assetId === 'meter-1')!.value).toBe(17);
      expect(s.log.text()).toMatch(/tls.rejectUnauthorized is false: the broker certificate is not verified/);
    } finally {
      await s.pipeline.stop();
      await publisher.publishAsync(`${run}/insecure/tele/meter-1/SENSOR`, '', { qos: 1, retain: true });
    }
  });

  test('a caFile that does not exist is a config error naming the file, before anything is sent', async () => {
    const missing = join(dir, 'no-such-ca.pem');
    const connections = count(broker.log(), 'New connection from');
    const s = await start(siteConfig('missing', { tls: { caFile: missing } }), siteEnv(passwords['site-a']));
    const err = await failure(s);
    expect(err.code).toBe('OPTIBID_ERR_CONFIG');
    expect(err.message).toBe(`mqtt: cannot read tls.caFile ${missing}: no such file`);
    expect(err.context.file).toBe(missing);
    expect(count(broker.log(), 'New connection from')).toBe(connections);
  });

  test('mutual TLS: a client certificate from the CA logs in as its CN; none, or one from another CA, is refused clearly', async () => {
    await publisher.publishAsync(`${run}/mtls/tele/battery-3/SENSOR`, sensor(-1500), { qos: 1, retain: true });
    const mtls = (area: string, tls: MqttConfig['tls']) =>
      siteConfig(area, {
        url: mtlsUrl(),
        usernameEnv: undefined,
        passwordEnv: undefined,
        tls,
        topics: [{ filter: `${run}/mtls/tele/+/SENSOR`, qos: 1, decoder: 'tasmota' }],
      });
    const ok = await start(
      mtls('mtls', { caFile: pki.caFile, certFile: pki.clientCertFile, keyFile: pki.clientKeyFile }),
    );
    try {
      const got = await readings(ok, (r) => r.some((x) => x.assetId === 'battery-3'));
      expect(got.find((x) => x.assetId === 'battery-3')!.value).toBe(-1500);
      expect(broker.log()).toContain(`as optibid-${run}-mtls (p2, c1, k60, u'${pki.clientName}')`);
    } finally {
      await ok.pipeline.stop();
      await publisher.publishAsync(`${run}/mtls/tele/battery-3/SENSOR`, '', { qos: 1, retain: true });
    }

    const none = await start(mtls('mtls-none', { caFile: pki.caFile }));
    expect((await failure(none)).message).toMatch(
      /TLS handshake with .* failed: the broker requires a client certificate \(.*certificate required.*\); set tls\.certFile and tls\.keyFile/,
    );

    const stranger = await start(
      mtls('mtls-stranger', { caFile: pki.caFile, certFile: pki.strangerCertFile, keyFile: pki.strangerKeyFile }),
    );
    expect((await failure(stranger)).message).toContain(
      `the broker refused the client certificate tls.certFile ${pki.strangerCertFile} (`,
    );

    const mismatched = await start(
      mtls('mtls-pair', { caFile: pki.caFile, certFile: pki.clientCertFile, keyFile: pki.strangerKeyFile }),
    );
    expect((await failure(mismatched)).message).toBe(
      `mqtt: tls.keyFile ${pki.strangerKeyFile} is not the key of tls.certFile ${pki.clientCertFile}`,
    );
  });

  test('a password changed on the broker while running: the reconnect is refused and the run fails clearly, not silently', async () => {
    await publisher.publishAsync(`${run}/rotate/tele/bess-9/SENSOR`, sensor(900), { qos: 1, retain: true });
    const cfg = siteConfig('rotate', { usernameEnv: 'BAT_USER', passwordEnv: 'BAT_PASSWORD' });
    const s = await start(cfg, { BAT_USER: 'battery', BAT_PASSWORD: passwords.battery });
    try {
      await readings(s, (r) => r.some((x) => x.assetId === 'bess-9'));
      // Rotate the battery password on the broker (SIGHUP reloads the password file) ...
      const rotated = secret('Rotated');
      writePasswordFile(passwordFile, { ...passwords, battery: rotated }, ['publisher']);
      const reloads = count(broker.log(), 'Reloading config');
      broker.reload();
      await broker.waitForLog('Reloading config', reloads + 1);
      // ... and take over the source's client id, which disconnects it: its reconnect uses the old password.
      const usurper = await mqtt.connectAsync(tlsUrl(), {
        clientId: cfg.clientId,
        username: 'publisher',
        password: passwords.publisher,
        ca: readFileSync(pki.caFile),
        reconnectPeriod: 0,
      });
      try {
        const err = await failure(s);
        expect(err.message).toContain(
          `broker mqtts://127.0.0.1:${broker.tlsPort} refused the connection: not authorized`,
        );
        const logged = s.log.text();
        expect(logged).toMatch(/error .*refused the connection: not authorized/);
        expect(logged).not.toContain(passwords.battery);
        expect(logged).not.toContain(rotated);
      } finally {
        await usurper.endAsync(true);
      }
    } finally {
      await s.pipeline.stop();
      writePasswordFile(passwordFile, passwords, ['publisher']);
      broker.reload();
      await publisher.publishAsync(`${run}/rotate/tele/bess-9/SENSOR`, '', { qos: 1, retain: true });
    }
  });
});
