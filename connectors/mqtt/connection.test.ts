import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OptiBidError } from '@optibid/runtime';
import { credentialOptions, fatalConnectError, shownUrl } from './connection.js';
import { makeTestPki, type TestPki } from './testing/pki.js';
import { mosquittoPasswordLine } from './testing/passwd.js';

let dir: string;
let pki: TestPki;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'optibid-mqtt-conn-'));
  pki = await makeTestPki(dir);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const url = 'mqtts://broker.example:8883';
const configError = (fn: () => unknown): OptiBidError => {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(OptiBidError);
    expect((err as OptiBidError).code).toBe('OPTIBID_ERR_CONFIG');
    return err as OptiBidError;
  }
  throw new Error('no error');
};

describe('MQTT credentials and TLS options', () => {
  test('a password in the URL is never shown', () => {
    expect(shownUrl('mqtts://meter:Hunter2@broker:8883/x')).toBe('mqtts://meter:***@broker:8883/x');
    expect(shownUrl('mqtts://broker:8883')).toBe('mqtts://broker:8883');
    expect(shownUrl('not a url://u:Hunter2@h')).not.toContain('Hunter2');
  });

  test('credentials come from the named environment variables', () => {
    const env = { U: 'site-a', P: 'pw' };
    expect(credentialOptions({ usernameEnv: 'U', passwordEnv: 'P' }, env, url)).toEqual({
      username: 'site-a',
      password: 'pw',
    });
    expect(configError(() => credentialOptions({ usernameEnv: 'NOPE' }, env, url)).message).toBe(
      'mqtt: environment variable NOPE (usernameEnv) is not set',
    );
    expect(configError(() => credentialOptions({ usernameEnv: 'U', passwordEnv: 'NOPE' }, env, url)).message).toBe(
      'mqtt: environment variable NOPE (passwordEnv) is not set',
    );
    expect(configError(() => credentialOptions({ passwordEnv: 'P' }, env, url)).message).toMatch(
      /passwordEnv is set without usernameEnv/,
    );
  });

  test('TLS files are read and checked up front; each problem names the setting and the file', () => {
    const ok = credentialOptions(
      { tls: { caFile: pki.caFile, certFile: pki.clientCertFile, keyFile: pki.clientKeyFile } },
      {},
      url,
    );
    expect(ok.rejectUnauthorized).toBe(true);
    expect(String(ok.ca)).toContain('-----BEGIN CERTIFICATE-----');
    expect(String(ok.key)).toContain('PRIVATE KEY');

    expect(
      configError(() => credentialOptions({ tls: { caFile: pki.caFile } }, {}, 'mqtt://broker:1883')).message,
    ).toBe(
      'mqtt: tls is set but the url mqtt://broker:1883 is not a TLS one: use mqtts:// (or wss://), or the TLS settings are ignored',
    );
    const notPem = join(dir, 'not-a-ca.pem');
    writeFileSync(notPem, 'hello\n');
    expect(configError(() => credentialOptions({ tls: { caFile: notPem } }, {}, url)).message).toBe(
      `mqtt: tls.caFile ${notPem} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`,
    );
    const folder = configError(() => credentialOptions({ tls: { caFile: dir } }, {}, url));
    expect(folder.message).toBe(`mqtt: cannot read tls.caFile ${dir}: it is a folder`);
    expect(folder.context.file).toBe(dir);
    expect(configError(() => credentialOptions({ tls: { certFile: pki.clientCertFile } }, {}, url)).message).toMatch(
      /tls.certFile and tls.keyFile go together/,
    );
    expect(
      configError(() => credentialOptions({ tls: { certFile: pki.clientCertFile, keyFile: pki.caFile } }, {}, url))
        .message,
    ).toMatch(new RegExp(`tls.keyFile ${pki.caFile} is not a usable private key`));
    expect(
      configError(() =>
        credentialOptions({ tls: { certFile: pki.clientCertFile, keyFile: pki.strangerKeyFile } }, {}, url),
      ).message,
    ).toBe(`mqtt: tls.keyFile ${pki.strangerKeyFile} is not the key of tls.certFile ${pki.clientCertFile}`);
    const relative = configError(() => credentialOptions({ tls: { caFile: 'certs/none.pem' } }, {}, url));
    expect(relative.message).toBe(
      `mqtt: cannot read tls.caFile certs/none.pem (${join(process.cwd(), 'certs/none.pem')}): no such file`,
    );
  });
});

describe('which connection errors are fatal', () => {
  const refused = (code: number, text: string) => Object.assign(new Error(`Connection refused: ${text}`), { code });
  const tlsError = (code: string, message = code) => Object.assign(new Error(message), { code });

  test('refused credentials are fatal and name the variables, never their values', () => {
    const err = fatalConnectError(refused(5, 'Not authorized'), { usernameEnv: 'U', passwordEnv: 'P' }, url)!;
    expect(err.message).toBe(
      `mqtt: broker ${url} refused the connection: not authorized (username from U, password from P); check them and the broker's password file and ACL`,
    );
    expect(fatalConnectError(refused(4, 'Bad username or password'), {}, url)!.message).toMatch(
      /not authorized: bad username or password \(no credentials configured/,
    );
    expect(fatalConnectError(refused(2, 'Identifier rejected'), {}, url)!.message).toMatch(/check clientId/);
    expect(fatalConnectError(refused(5, 'Not authorized'), { tls: { certFile: 'c.pem' } }, url)!.message).toMatch(
      /not authorized \(client certificate c\.pem, no username\); check the broker's ACL$/,
    );
  });

  test('a busy broker or a dropped connection is worth retrying', () => {
    expect(fatalConnectError(refused(3, 'Server unavailable'), {}, url)).toBeUndefined();
    expect(fatalConnectError(tlsError('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:8883'), {}, url)).toBeUndefined();
    expect(fatalConnectError(tlsError('ECONNRESET', 'read ECONNRESET'), {}, url)).toBeUndefined();
    expect(fatalConnectError(new Error('connack timeout'), {}, url)).toBeUndefined();
  });

  test('certificate problems say what to set', () => {
    expect(fatalConnectError(tlsError('CERT_HAS_EXPIRED', 'certificate has expired'), {}, url)!.message).toBe(
      `mqtt: TLS handshake with ${url} failed: the broker's certificate has expired (certificate has expired)`,
    );
    expect(
      fatalConnectError(tlsError('ERR_TLS_CERT_ALTNAME_INVALID', "Host: x. is not in the cert's altnames"), {}, url)!
        .message,
    ).toMatch(/not for this host name/);
    expect(
      fatalConnectError(
        tlsError(
          'ERR_SSL_WRONG_VERSION_NUMBER',
          '80FC:error:0A00010B:SSL routines:ssl3_get_record:wrong version number:../deps/openssl/ssl/record.c:354:\n',
        ),
        {},
        url,
      )!.message,
    ).toBe(
      `mqtt: TLS handshake with ${url} failed: the port does not speak TLS (wrong version number); is it a plain mqtt:// listener?`,
    );
  });
});

test('the Node password line is the format mosquitto_passwd writes ($7: PBKDF2-SHA512, 101 iterations)', () => {
  // A line written by `mosquitto_passwd -b file meter 's3cret!'` (Mosquitto 2.0.11): same salt, same hash.
  const fromTool =
    'meter:$7$101$ryKYa13WTWl5JzM7$Jj3UmEN5HU3wSvCeYHV5VwgWCkWyCxC1XVm/J4yLr5QQOUHyL3hBDmJ/RQ4RjIR5oNk7PoWDp4G6t/5DNpBzaw==';
  const salt = Buffer.from(fromTool.split('$')[3]!, 'base64');
  expect(mosquittoPasswordLine('meter', 's3cret!', salt)).toBe(fromTool);
  expect(mosquittoPasswordLine('meter', 's3cret?', salt)).not.toBe(fromTool);
});
