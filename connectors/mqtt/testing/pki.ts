// tsyringe (under @peculiar/x509) needs the Reflect metadata API before the library loads.
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';

/** A CA, a broker certificate it signed, a client certificate it signed, and a CA nobody trusts; as PEM files. */
export interface TestPki {
  /** PEM of the test CA (what `tls.caFile` points to). */
  caFile: string;
  /** A second, unrelated CA: giving it as `caFile` must not make the broker trusted. */
  otherCaFile: string;
  /** Broker certificate (CN and SAN 127.0.0.1, localhost) and its key. */
  serverCertFile: string;
  serverKeyFile: string;
  /** Client certificate for mutual TLS (CN = `clientName`) and its key. */
  clientCertFile: string;
  clientKeyFile: string;
  /** A client certificate signed by the other CA (the broker must refuse it). */
  strangerCertFile: string;
  strangerKeyFile: string;
  clientName: string;
}

const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;
const crypto = webcrypto;
// The library types WebCrypto with the DOM lib, which this Node project does not load.
x509.cryptoProvider.set(crypto as never);

async function keyPair(): Promise<CryptoKeyPair> {
  return crypto.subtle.generateKey(alg, true, ['sign', 'verify']);
}

async function keyPem(key: CryptoKey): Promise<string> {
  const der = Buffer.from(await crypto.subtle.exportKey('pkcs8', key));
  return x509.PemConverter.encode(der, 'PRIVATE KEY');
}

function validity(): { notBefore: Date; notAfter: Date } {
  const now = Date.now();
  return { notBefore: new Date(now - 3_600_000), notAfter: new Date(now + 2 * 86_400_000) };
}

async function makeCa(name: string): Promise<{ cert: x509.X509Certificate; keys: CryptoKeyPair }> {
  const keys = await keyPair();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    name: `CN=${name}, O=OptiBid tests`,
    keys,
    signingAlgorithm: alg,
    ...validity(),
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { cert, keys };
}

async function issue(
  ca: { cert: x509.X509Certificate; keys: CryptoKeyPair },
  cn: string,
  usage: 'server' | 'client',
): Promise<{ cert: string; key: string }> {
  const keys = await keyPair();
  const cert = await x509.X509CertificateGenerator.create({
    subject: `CN=${cn}, O=OptiBid tests`,
    issuer: ca.cert.subject,
    publicKey: keys.publicKey,
    signingKey: ca.keys.privateKey,
    signingAlgorithm: alg,
    ...validity(),
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension([
        usage === 'server' ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth,
      ]),
      ...(usage === 'server'
        ? [
            new x509.SubjectAlternativeNameExtension([
              { type: 'ip', value: '127.0.0.1' },
              { type: 'dns', value: 'localhost' },
            ]),
          ]
        : []),
      await x509.AuthorityKeyIdentifierExtension.create(ca.keys.publicKey),
    ],
  });
  return { cert: cert.toString('pem'), key: await keyPem(keys.privateKey) };
}

/**
 * Generates a throw-away PKI into `dir` (ECDSA P-256 keys from Node's WebCrypto, certificates valid from an
 * hour ago for two days): a test CA, a broker certificate for 127.0.0.1/localhost and a client
 * certificate signed by it, plus an unrelated CA with a client certificate of its own.
 */
export async function makeTestPki(dir: string, clientName = 'meter-gateway-1'): Promise<TestPki> {
  const ca = await makeCa('OptiBid Test CA');
  const other = await makeCa('Some Other CA');
  const server = await issue(ca, '127.0.0.1', 'server');
  const client = await issue(ca, clientName, 'client');
  const stranger = await issue(other, clientName, 'client');
  const files: Record<string, string> = {
    'ca.pem': ca.cert.toString('pem'),
    'other-ca.pem': other.cert.toString('pem'),
    'server.pem': server.cert,
    'server.key': server.key,
    'client.pem': client.cert,
    'client.key': client.key,
    'stranger.pem': stranger.cert,
    'stranger.key': stranger.key,
  };
  for (const [name, text] of Object.entries(files))
    writeFileSync(join(dir, name), text.endsWith('\n') ? text : `${text}\n`, { mode: 0o600 });
  return {
    caFile: join(dir, 'ca.pem'),
    otherCaFile: join(dir, 'other-ca.pem'),
    serverCertFile: join(dir, 'server.pem'),
    serverKeyFile: join(dir, 'server.key'),
    clientCertFile: join(dir, 'client.pem'),
    clientKeyFile: join(dir, 'client.key'),
    strangerCertFile: join(dir, 'stranger.pem'),
    strangerKeyFile: join(dir, 'stranger.key'),
    clientName,
  };
}
