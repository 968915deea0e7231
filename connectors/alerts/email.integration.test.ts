import { SMTPServer } from 'smtp-server';
import type { AddressInfo } from 'node:net';
import { memoryLogger } from '../timescale/test-support.js';
import { AlertSink } from './channel.js';
import { EmailChannel } from './email.js';
import { alertRecord } from './test-alerts.js';

interface Mail {
  from: string;
  to: string[];
  data: string;
}

/** A real SMTP server on a free port; `tempFailFirst` messages get "451 try again later". */
async function smtp(
  tempFailFirst = 0,
): Promise<{ server: SMTPServer; port: number; mails: Mail[]; attempts: () => number }> {
  const mails: Mail[] = [];
  let attempts = 0;
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, session, callback) {
      let data = '';
      stream.on('data', (c: Buffer) => (data += c.toString('utf8')));
      stream.on('end', () => {
        attempts++;
        if (attempts <= tempFailFirst) {
          const err = Object.assign(new Error('try again later'), { responseCode: 451 });
          return callback(err);
        }
        mails.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          data,
        });
        callback();
      });
    },
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.server.address() as AddressInfo).port;
  return { server, port, mails, attempts: () => attempts };
}

test('email: each alert arrives once, with the title as subject and the details as body; a 451 is retried', async () => {
  const s = await smtp(1);
  const sleeps: number[] = [];
  const sink = new AlertSink(
    new EmailChannel({
      host: '127.0.0.1',
      port: s.port,
      from: 'OptiBid <alerts@optibid.test>',
      to: ['desk@optibid.test', 'ops@optibid.test'],
    }),
    { backoffMs: 1000 },
    memoryLogger(),
    { sleep: async (ms) => void sleeps.push(ms), random: () => 0 },
  );
  try {
    await sink.connect();
    await sink.write([alertRecord(), alertRecord()]);
    await sink.close();
    expect(s.attempts()).toBe(2);
    expect(sleeps).toEqual([500]);
    expect(s.mails).toHaveLength(1);
    const [mail] = s.mails;
    expect(mail!.from).toBe('alerts@optibid.test');
    expect(mail!.to).toEqual(['desk@optibid.test', 'ops@optibid.test']);
    expect(mail!.data).toMatch(/^Subject: \[CRITICAL\] FIRING price-spike-be on EPEX\/BE\r?$/m);
    expect(mail!.data).toMatch(/value: 412\.5 EUR\/MWh \(threshold 300 EUR\/MWh\)/);
    expect(mail!.data).toMatch(/^X-OptiBid-Delivery: price-spike-be:EPEX\/BE:FIRING:\d+\r?$/im); // header names are case-insensitive
  } finally {
    await new Promise<void>((r) => s.server.close(() => r()));
  }
});
