import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import type { IClientOptions } from 'mqtt';
import { OptiBidError } from '@optibid/runtime';

/** What the connection needs from the source config (credentials and TLS). */
export interface ConnectionConfig {
  usernameEnv?: string;
  passwordEnv?: string;
  tls?: { caFile?: string; certFile?: string; keyFile?: string; rejectUnauthorized?: boolean };
}

const tlsSchemes = new Set(['mqtts:', 'tls:', 'ssl:', 'wss:', 'wxs:', 'alis:']);

/** The broker URL as it may appear in messages and logs: a password in its user info becomes `***`. */
export function shownUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url.replace(/\/\/[^/@]*@/, '//***@');
  }
}

function configError(message: string, file?: string): OptiBidError {
  return new OptiBidError('OPTIBID_ERR_CONFIG', message, { context: file ? { file } : {} });
}

/** Reads a PEM file named by `tls.<key>`; a missing or unreadable file is a config error naming it. */
function readPem(key: string, file: string): Buffer {
  const path = resolve(file);
  const shown = path === file ? file : `${file} (${path})`;
  try {
    return readFileSync(path);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why =
      e.code === 'ENOENT'
        ? 'no such file'
        : e.code === 'EACCES'
          ? 'permission denied'
          : e.code === 'EISDIR'
            ? 'it is a folder'
            : e.message;
    throw configError(`mqtt: cannot read tls.${key} ${shown}: ${why}`, path);
  }
}

/** Parses every certificate of a PEM bundle; none, or one that does not parse, is a config error. */
function certificates(key: string, file: string, pem: Buffer): X509Certificate[] {
  const blocks = pem.toString('utf8').match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0)
    throw configError(`mqtt: tls.${key} ${file} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`, file);
  return blocks.map((b, i) => {
    try {
      return new X509Certificate(b);
    } catch (err) {
      throw configError(
        `mqtt: tls.${key} ${file}: certificate ${i + 1} does not parse (${(err as Error).message})`,
        file,
      );
    }
  });
}

function privateKey(file: string, pem: Buffer): KeyObject {
  try {
    return createPrivateKey(pem);
  } catch (err) {
    const encrypted = /ENCRYPTED/.test(pem.toString('utf8'));
    throw configError(
      `mqtt: tls.keyFile ${file} is not a usable private key${encrypted ? ' (it is encrypted; give an unencrypted PEM key)' : ''}: ${(err as Error).message}`,
      file,
    );
  }
}

/**
 * The credentials and TLS options of the MQTT client, checked before anything is sent: environment
 * variables set, a password only with a username, TLS settings only on a TLS URL, PEM files that exist
 * and parse, and a client key that belongs to its certificate. Every problem is an OPTIBID_ERR_CONFIG
 * naming the setting (and file); no message holds a secret.
 */
export function credentialOptions(cfg: ConnectionConfig, env: NodeJS.ProcessEnv, url: string): IClientOptions {
  const opts: IClientOptions = {};
  if (cfg.passwordEnv && !cfg.usernameEnv)
    throw configError('mqtt: passwordEnv is set without usernameEnv (MQTT sends a password only with a username)');
  if (cfg.usernameEnv) {
    const username = env[cfg.usernameEnv];
    if (!username) throw configError(`mqtt: environment variable ${cfg.usernameEnv} (usernameEnv) is not set`);
    opts.username = username;
  }
  if (cfg.passwordEnv) {
    const password = env[cfg.passwordEnv];
    if (password === undefined)
      throw configError(`mqtt: environment variable ${cfg.passwordEnv} (passwordEnv) is not set`);
    opts.password = password;
  }
  const tls = cfg.tls;
  if (!tls) return opts;
  let scheme = '';
  try {
    scheme = new URL(url).protocol;
  } catch {
    // mqtt.js reports a URL it cannot parse itself.
  }
  if (!tlsSchemes.has(scheme))
    throw configError(
      `mqtt: tls is set but the url ${shownUrl(url)} is not a TLS one: use mqtts:// (or wss://), or the TLS settings are ignored`,
    );
  if (tls.caFile) {
    const pem = readPem('caFile', tls.caFile);
    certificates('caFile', tls.caFile, pem);
    opts.ca = pem;
  }
  if (Boolean(tls.certFile) !== Boolean(tls.keyFile))
    throw configError('mqtt: tls.certFile and tls.keyFile go together (mutual TLS needs the certificate and its key)');
  if (tls.certFile && tls.keyFile) {
    const cert = readPem('certFile', tls.certFile);
    const key = readPem('keyFile', tls.keyFile);
    const [leaf] = certificates('certFile', tls.certFile, cert);
    if (!leaf!.checkPrivateKey(privateKey(tls.keyFile, key)))
      throw configError(`mqtt: tls.keyFile ${tls.keyFile} is not the key of tls.certFile ${tls.certFile}`, tls.keyFile);
    opts.cert = cert;
    opts.key = key;
  }
  opts.rejectUnauthorized = tls.rejectUnauthorized ?? true;
  return opts;
}

/** Which credentials a refused connection used (variable and file names only) and what to check. */
function credentialsUsed(cfg: ConnectionConfig): string {
  const cert = cfg.tls?.certFile ? `client certificate ${cfg.tls.certFile}` : undefined;
  if (!cfg.usernameEnv && !cert)
    return ' (no credentials configured: set usernameEnv and passwordEnv, or tls.certFile and tls.keyFile)';
  if (!cfg.usernameEnv) return ` (${cert}, no username); check the broker's ACL`;
  const password = cfg.passwordEnv ? `password from ${cfg.passwordEnv}` : 'no password';
  const used = [`username from ${cfg.usernameEnv}`, password, cert].filter(Boolean).join(', ');
  return ` (${used}); check them and the broker's password file and ACL`;
}

/** CONNACK return codes (MQTT 3.1.1) and reason codes (MQTT 5) that waiting will not fix. */
const refusals: Record<number, string> = {
  1: 'unacceptable protocol version',
  2: 'client identifier rejected (check clientId)',
  4: 'not authorized: bad username or password',
  5: 'not authorized',
  132: 'unsupported protocol version',
  133: 'client identifier not valid (check clientId)',
  134: 'not authorized: bad username or password',
  135: 'not authorized',
  138: 'banned',
  140: 'bad authentication method',
};

const untrusted = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
  'CERT_CHAIN_TOO_LONG',
  'INVALID_CA',
]);

const clientCertRefused = new Set([
  'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA',
  'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE',
  'ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED',
  'ERR_SSL_SSLV3_ALERT_CERTIFICATE_REVOKED',
  'ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN',
  'ERR_SSL_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE',
  'ERR_SSL_TLSV1_ALERT_ACCESS_DENIED',
]);

/**
 * Whether a client error means the connection cannot succeed until someone changes a setting (wrong
 * credentials, an untrusted or expired broker certificate, a refused client certificate, a port that does
 * not speak TLS), and if so an OPTIBID_ERR_CONFIG saying which and what to set. Other errors (refused or
 * reset connections, a busy broker) return undefined: they are worth retrying.
 */
export function fatalConnectError(err: Error, cfg: ConnectionConfig, url: string): OptiBidError | undefined {
  const shown = shownUrl(url);
  const code = (err as { code?: unknown }).code;
  const opts = { cause: err, context: { service: shown } };
  if (typeof code === 'number' && /^Connection refused/.test(err.message)) {
    const what = refusals[code];
    if (!what) return undefined;
    const creds = [4, 5, 134, 135].includes(code) ? credentialsUsed(cfg) : '';
    return new OptiBidError(
      'OPTIBID_ERR_CONFIG',
      `mqtt: broker ${shown} refused the connection: ${what}${creds}`,
      opts,
    );
  }
  if (typeof code !== 'string' && err.message !== 'TLS not authorized') return undefined;
  const tls = cfg.tls ?? {};
  // OpenSSL messages read "<id>:error:<code>:SSL routines:<function>:<reason>:<source file>:<line>:...".
  const detail = /SSL routines:[^:]*:([^:]+)/.exec(err.message)?.[1] ?? err.message.trim();
  const fail = (what: string) =>
    new OptiBidError('OPTIBID_ERR_CONFIG', `mqtt: TLS handshake with ${shown} failed: ${what}`, opts);
  if (untrusted.has(code as string) || err.message === 'TLS not authorized')
    return fail(
      `the broker's certificate is not trusted (${detail}); ${
        tls.caFile
          ? `tls.caFile ${tls.caFile} is not the CA that signed it`
          : 'set tls.caFile to the PEM file of the CA that signed it'
      }`,
    );
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID')
    return fail(
      `the broker's certificate ${code === 'CERT_HAS_EXPIRED' ? 'has expired' : 'is not valid yet'} (${detail})`,
    );
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID')
    return fail(
      `the broker's certificate is not for this host name (${detail}); connect by a name the certificate lists`,
    );
  if (
    code === 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED' ||
    (code === 'ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE' && !tls.certFile)
  )
    return fail(
      tls.certFile
        ? `the broker requires a client certificate it accepts (${detail})`
        : `the broker requires a client certificate (${detail}); set tls.certFile and tls.keyFile`,
    );
  if (clientCertRefused.has(code as string))
    return fail(
      `the broker refused the client certificate${tls.certFile ? ` tls.certFile ${tls.certFile}` : ''} (${detail}); it must be signed by a CA the broker trusts and be valid`,
    );
  if (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || code === 'ERR_SSL_PACKET_LENGTH_TOO_LONG')
    return fail(`the port does not speak TLS (${detail}); is it a plain mqtt:// listener?`);
  if (
    code === 'ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE' ||
    code === 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION' ||
    code === 'ERR_SSL_UNSUPPORTED_PROTOCOL'
  )
    return fail(`no TLS version or cipher both sides accept (${detail})`);
  return undefined;
}
