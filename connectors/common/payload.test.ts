import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { zipSync, strToU8 } from 'fflate';
import { isOptiBidError } from '@optibid/runtime';
import {
  parseXmlSafe,
  parseJsonSafe,
  unzipSafe,
  parseCsv,
  csvObjects,
  finiteNumber,
  checkContentType,
  looksLikeHtml,
} from './payload.js';

const entsoe = readFileSync(join(import.meta.dirname, '../entsoe/fixtures/BE_60M.xml'), 'utf8');

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (isOptiBidError(err)) return `${err.code} ${err.message}`;
    throw err;
  }
  return 'no error';
}

describe('safe XML', () => {
  test('a billion-laughs document is refused before any expansion, quickly', () => {
    const laughs =
      '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">' +
      Array.from({ length: 9 }, (_, i) => `<!ENTITY lol${i + 1} "${`&lol${i === 0 ? '' : i};`.repeat(10)}">`).join('') +
      ']><lolz>&lol9;</lolz>';
    const t0 = performance.now();
    expect(codeOf(() => parseXmlSafe({ body: laughs, where: 'laughs.xml' }))).toMatch(
      /OPTIBID_ERR_DECODE laughs\.xml:1:22: XML with a DOCTYPE/,
    );
    expect(performance.now() - t0).toBeLessThan(200);
  });

  test('an external entity is refused', () => {
    const xxe = '<?xml version="1.0"?>\n<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]><d>&x;</d>';
    expect(codeOf(() => parseXmlSafe({ body: xxe, where: 'xxe.xml' }))).toMatch(/xxe\.xml:2:1: XML with a DOCTYPE/);
  });

  test('a truncated real document is refused with the place of the error', () => {
    const cut = entsoe.slice(0, Math.floor(entsoe.length / 2));
    const lines = cut.trimEnd().split('\n').length;
    expect(codeOf(() => parseXmlSafe({ body: cut, where: 'BE_60M.xml' }))).toMatch(
      new RegExp(
        `OPTIBID_ERR_DECODE BE_60M\\.xml:${lines}:\\d+: XML ends before closing .*<Period>, <TimeSeries>, <Publication_MarketDocument> \\(truncated`,
      ),
    );
    expect(codeOf(() => parseXmlSafe({ body: '<a><b></a>', where: 'x.xml' }))).toMatch(/x\.xml:1:\d+: malformed XML/);
  });

  test('an HTML error page with HTTP 200 is an upstream error naming its title', () => {
    const html =
      '<!DOCTYPE html><html><head><title>503 Service Temporarily Unavailable</title></head><body>nginx</body></html>';
    expect(looksLikeHtml(html)).toBe(true);
    expect(codeOf(() => parseXmlSafe({ body: html, status: 200, where: 'api' }))).toMatch(
      /OPTIBID_ERR_UPSTREAM api: received an HTML page with HTTP 200 .*503 Service Temporarily Unavailable/,
    );
  });

  test('a body over the size limit is refused before parsing', () => {
    expect(
      codeOf(() =>
        parseXmlSafe(
          { body: entsoe, where: 'big' },
          { maxBytes: 1000, maxUnzippedBytes: 1, maxZipRatio: 1, maxZipEntries: 1 },
        ),
      ),
    ).toMatch(/exceeds the 1000-byte limit/);
  });

  test('the real document parses', () => {
    const doc = parseXmlSafe({ body: entsoe, where: 'BE_60M.xml' }) as { Publication_MarketDocument: { type: string } };
    expect(doc.Publication_MarketDocument.type).toBe('A44');
  });
});

describe('content type and JSON', () => {
  test('a wrong content type is refused', () => {
    expect(codeOf(() => checkContentType({ body: '', contentType: 'image/png', where: 'x' }, ['xml']))).toMatch(
      /unexpected content type "image\/png"/,
    );
    expect(
      codeOf(() => checkContentType({ body: '', contentType: 'text/xml; charset=utf-8', where: 'x' }, ['xml'])),
    ).toBe('no error');
  });

  test('malformed JSON names line and column', () => {
    expect(codeOf(() => parseJsonSafe({ body: '{\n  "a": 1,\n  "b": nan\n}', where: 'f.json' }))).toMatch(
      /f\.json:3:\d+: malformed JSON/,
    );
    expect(codeOf(() => parseJsonSafe({ body: '', where: 'f.json' }))).toMatch(/empty body/);
  });
});

describe('safe unzip', () => {
  test('a zip holding only an empty file and __MACOSX metadata is refused', () => {
    const junk = new Uint8Array(readFileSync(join(import.meta.dirname, 'fixtures/junk.zip')));
    expect(codeOf(() => unzipSafe({ body: junk, where: 'junk.zip' }))).toMatch(/junk\.zip: zip holds no usable file/);
  });

  test('a zip bomb (huge compression ratio) is refused before inflating', () => {
    const bomb = zipSync({ 'a.csv': new Uint8Array(5_000_000) }, { level: 9 });
    expect(codeOf(() => unzipSafe({ body: bomb, where: 'bomb.zip' }))).toMatch(/compression ratio of \d+ .*zip bomb/);
  });

  test('bytes that are not a zip are refused; a good zip gives its files', () => {
    expect(codeOf(() => unzipSafe({ body: new Uint8Array([1, 2, 3, 4, 5]), where: 'x.zip' }))).toMatch(
      /not a zip archive/,
    );
    const ok = zipSync({ 'a.csv': strToU8('x,y\n1,2\n'), '__MACOSX/._a.csv': strToU8('meta') });
    expect(unzipSafe({ body: ok, where: 'ok.zip' }).map((e) => e.name)).toEqual(['a.csv']);
  });
});

describe('CSV and numbers', () => {
  test('quoted fields, doubled quotes and CRLF', () => {
    expect(parseCsv('a,b\r\n"x, y","say ""hi"""\r\n', 'f')).toEqual([
      ['a', 'b'],
      ['x, y', 'say "hi"'],
    ]);
    expect(codeOf(() => parseCsv('a\n"open', 'f.csv'))).toMatch(/f\.csv:2: unterminated/);
    expect(codeOf(() => csvObjects('a,b\n1\n', 'f.csv'))).toMatch(/f\.csv:2: CSV row has 1 fields/);
  });

  test('non-finite numbers are refused', () => {
    expect(finiteNumber('12.5', 'v')).toBe(12.5);
    for (const bad of ['nan', 'NaN', '', 'Infinity', null, {}, '12abc'])
      expect(codeOf(() => finiteNumber(bad, 'v'))).toMatch(/is not a finite number/);
  });
});

describe('JSON error location', () => {
  test('points at the first bad character', async () => {
    const { jsonErrorIndex } = await import('./json-locate.js');
    expect(jsonErrorIndex('{"a":[1,2,{"b":"x"}],"c":null}')).toBe(-1);
    expect(jsonErrorIndex('{"a": nan}')).toBe(6);
    expect(jsonErrorIndex('{"a": 1,}')).toBe(8);
    expect(jsonErrorIndex('[1, 2')).toBe(5);
  });
});
