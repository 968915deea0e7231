import { endianness } from 'node:os';
import type avro from 'avsc';

/**
 * Specialised Avro binary encoders and decoders generated as straight-line JavaScript (`new Function`)
 * from a parsed avsc type, for the hot path of AvroSerde. They produce exactly the bytes avsc writes
 * (and therefore what `@confluentinc/schemaregistry`'s AvroSerializer writes, which encodes with avsc)
 * and read avsc's values back, but without avsc's per-value `Tap` calls, type dispatch and separate
 * validation pass:
 *
 * - ints and longs as zig-zag varints (small values through 32-bit arithmetic, timestamps through
 *   double arithmetic like avsc, so even imprecise huge negatives come out the same);
 * - doubles and floats through one shared little-endian Float64Array/Float32Array view;
 * - enums as index lookups (`Map` on write, symbol array on read, a writer→reader symbol table when
 *   the schemas differ);
 * - `[null, T]` unions as one branch byte;
 * - short ASCII strings written with a charCodeAt loop straight into the output buffer (Buffer
 *   utf8Write otherwise; strings with lone surrogates, which avsc writes differently from Node, send
 *   the whole record back to avsc), and read back through a small per-field string cache: repeated
 *   short values (asset ids, units, market areas) are compared byte by byte with the cached string
 *   and reused instead of being decoded again;
 * - the value is validated while it is written (same rules as avsc's `isValid`).
 *
 * Anything the generator does not handle (unions other than null + one type, recursive records,
 * non-primitive defaults, aliases, big-endian hosts) makes `compileWriter`/`compileReader` return
 * undefined, and the caller keeps using avsc for that schema.
 */

/** What a compiled writer returns instead of an end offset. */
export const WRITE_INVALID = -1;
/** The buffer is too small from `pos`: grow it (see `maxSize`) and write again. */
export const WRITE_OVERFLOW = -2;
/** The value needs avsc's own encoder to stay byte-identical (strings with lone surrogates). */
export const WRITE_FALLBACK = -3;

export interface CompiledWriter {
  /** Writes `value` at `pos`; returns the end offset, or one of the negative WRITE_* codes. */
  write(value: unknown, buf: Uint8Array, pos: number): number;
  /** An upper bound of the encoded size of a valid `value` (used to size a buffer after WRITE_OVERFLOW). */
  maxSize(value: unknown): number;
  /** The generated source, for debugging. */
  readonly source: string;
}

/** Thrown (as the `truncated` flag of a CompiledReadError) when the bytes end inside a value. */
export class CompiledReadError extends Error {
  constructor(
    message: string,
    readonly truncated: boolean,
  ) {
    super(message);
  }
}

export interface CompiledReader {
  /**
   * Decodes one value starting at `pos` and returns it; `end()` is then the offset after it. Throws
   * CompiledReadError (truncated or corrupt bytes). The value ends by `end` (default `buf.length`): a value
   * that would run past it is truncated (the bytes after `end` may belong to something else).
   */
  read(buf: Uint8Array, pos: number, end?: number): unknown;
  /** Offset after the value returned by the last `read`. */
  end(): number;
  readonly source: string;
}

class Unsupported extends Error {}

const littleEndian = endianness() === 'LE';

type T = avro.Type & {
  typeName: string;
  fields?: { name: string; type: T; defaultValue(): unknown; aliases?: string[] }[];
  symbols?: string[];
  types?: T[];
  itemsType?: T;
  valuesType?: T;
  size?: number;
  name?: string;
  default?: string;
};

/** The null branch and the other branch of a `[null, X]` / `[X, null]` union, or undefined. */
function nullable(t: T): { nullIndex: number; index: number; type: T } | undefined {
  if (t.typeName !== 'union:unwrapped' || t.types?.length !== 2) return undefined;
  const [a, b] = t.types;
  if (a!.typeName === 'null' && b!.typeName !== 'null') return { nullIndex: 0, index: 1, type: b! };
  if (b!.typeName === 'null' && a!.typeName !== 'null') return { nullIndex: 1, index: 0, type: a! };
  return undefined;
}

/** A default value the generated code can embed as a constant (no object to clone per record). */
function primitiveDefault(v: unknown): boolean {
  return v === null || typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean';
}

/** Bytes a value of this type takes at most, counting only what is written unconditionally (no strings, arrays, maps). */
function fixedBound(t: T, stack: Set<T>): number {
  const n = nullable(t);
  if (n) return 1 + fixedBound(n.type, stack);
  switch (t.typeName) {
    case 'null':
      return 0;
    case 'boolean':
      return 1;
    case 'int':
      return 5;
    case 'long':
      return 10;
    case 'float':
      return 4;
    case 'double':
      return 8;
    case 'enum':
      return 5;
    case 'fixed':
      return t.size!;
    case 'string':
    case 'bytes':
    case 'array':
    case 'map':
      return 0; // checked where written
    case 'record': {
      if (stack.has(t)) throw new Unsupported('recursive record');
      stack.add(t);
      let sum = 0;
      for (const f of t.fields!) sum += fixedBound(f.type, stack); // a default written instead is checked where written
      stack.delete(t);
      return sum;
    }
    default:
      throw new Unsupported(t.typeName);
  }
}

/**
 * Code shared by every generated writer. The generated function keeps the buffer `b`, the position `p`
 * and the limit `L` in locals; helpers take them as arguments and return the new position.
 */
const writerPrelude = `
"use strict";
const INVALID = {}, OVERFLOW = {}, FALLBACK = {};
function wl(b, p, n) {
  if (n >= -1073741824 && n < 1073741824) {
    let m = n >= 0 ? n << 1 : (~n << 1) | 1;
    while (m > 127) { b[p++] = (m & 127) | 128; m >>>= 7; }
    b[p++] = m;
  } else {
    let f = n >= 0 ? n * 2 : -n * 2 - 1;
    while (f >= 128) { b[p++] = (f & 127) | 128; f /= 128; }
    b[p++] = f & 127;
  }
  return p;
}
function ws(b, p, s, L) {
  const n = s.length;
  if (n < 64) {
    if (p + 1 + n > L) throw OVERFLOW;
    let q = p + 1;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c > 127) return wsSlow(b, p, s, L);
      b[q++] = c;
    }
    b[p] = n << 1;
    return q;
  }
  return wsSlow(b, p, s, L);
}
function wsSlow(b, p, s, L) {
  if (!s.isWellFormed()) throw FALLBACK;
  const len = Buffer.byteLength(s, 'utf8');
  if (p + 10 + len > L) throw OVERFLOW;
  p = wl(b, p, len);
  return p + utf8Write.call(b, s, p, len);
}
function wb(b, p, x, L) {
  const len = x.length;
  if (p + 10 + len > L) throw OVERFLOW;
  p = wl(b, p, len);
  b.set(x, p);
  return p + len;
}
function wraw(b, p, bytes, L) {
  if (p + bytes.length > L) throw OVERFLOW;
  for (let i = 0; i < bytes.length; i++) b[p++] = bytes[i];
  return p;
}
// For maxSize, which may see invalid values (a too-small buffer can be noticed before a bad field).
const strlen = (s) => (typeof s === 'string' ? s.length : 0);
const list = (a) => (Array.isArray(a) ? a : []);
const obj = (o) => (o !== null && typeof o === 'object' ? o : {});
`;

/**
 * Code shared by every generated reader. The generated function keeps the buffer `b`, the position
 * `p` and the end `e` in locals; one-byte varints (lengths, small ints, union branches, enum indexes)
 * are decoded inline, longer ones by \`rlx\`, which leaves the position after them in \`P\`.
 */
const readerPrelude = `
"use strict";
let P = 0;
function trunc() { return new ReadError('the bytes end inside a value', true); }
function corrupt(m) { return new ReadError(m, false); }
function rlx(b, p) {
  let x = b[p++], n = x & 127, k = 7;
  while (x > 127 && k < 28) { x = b[p++]; n |= (x & 127) << k; k += 7; }
  if (x === undefined) throw trunc();
  if (x < 128) { P = p; return (n >>> 1) ^ -(n & 1); }
  let f = n, m = 268435456;
  do {
    x = b[p++];
    if (x === undefined) throw trunc();
    if (k > 63) throw corrupt('varint longer than 10 bytes');
    f += (x & 127) * m;
    m *= 128;
    k += 7;
  } while (x > 127);
  P = p;
  // The sign is bit 0 of the first byte (n & 1): cheaper than f % 2 on a double (an fmod call).
  return n & 1 ? -(f + 1) / 2 : f / 2;
}
function rlxSafe(b, p) {
  const n = rlx(b, p);
  if (n < -9007199254740990 || n > 9007199254740990) throw corrupt('potential precision loss');
  return n;
}
/**
 * Steps over a varint at p without its value (a projected reader's unread int or long): up to 7 bytes
 * (|value| < 2^48: no precision check needed) by their continuation bits; anything longer goes through
 * rlx / rlxSafe, so an overlong varint or a long beyond 2^53 fails exactly as when it is read.
 */
function vskip(b, p, safe) {
  const s = p;
  let x;
  do {
    x = b[p++];
    if (x === undefined) throw trunc();
  } while (x > 127 && p - s < 7);
  if (x < 128) return p;
  if (safe) rlxSafe(b, s);
  else rlx(b, s);
  return P;
}
function slx(b, p) {
  let x;
  do {
    x = b[p++];
    if (x === undefined) throw trunc();
  } while (x > 127);
  return p;
}
/**
 * A short string of n bytes at s through the per-field cache C (an array of 2^CACHE_BITS strings) with
 * its counters S (bypass countdown, lookups, hits): repeated values are reused after a byte compare.
 */
function rsc(C, S, b, s, n) {
  const e = s + n;
  if (n > 32) return utf8Slice.call(b, s, e);
  if (S[0] !== 0) {
    S[0]--;
    return utf8Slice.call(b, s, e);
  }
  let h = n;
  for (let i = s; i < e; i++) h = Math.imul(h ^ b[i], 16777619);
  const slot = h >>> SHIFT;
  const c = C[slot];
  if (++S[1] === 1024) {
    // Every 1024 lookups: a field whose values rarely repeat (under 1 in 4) skips the cache for a while.
    if (S[2] < 256) S[0] = 16384;
    S[1] = 0;
    S[2] = 0;
  }
  if (c.length === n) {
    let i = 0;
    while (i < n && c.charCodeAt(i) === b[s + i]) i++;
    if (i === n) {
      S[2]++;
      return c;
    }
  }
  return (C[slot] = utf8Slice.call(b, s, e));
}
function copy(b, s, n) {
  const out = Buffer.allocUnsafe(n);
  out.set(b.subarray(s, s + n));
  return out;
}
`;

/** Bits of the per-field string cache index (1024 entries of at most 32 bytes: about 60 KiB per string field at most). */
const CACHE_BITS = 10;

class Source {
  lines: string[] = [];
  private n = 0;
  readonly consts: unknown[] = [];
  v(prefix = 'v'): string {
    return `${prefix}${this.n++}`;
  }
  k(value: unknown): string {
    this.consts.push(value);
    return `K[${this.consts.length - 1}]`;
  }
  emit(indent: number, line: string): void {
    this.lines.push(`${'  '.repeat(indent)}${line}`);
  }
}

function genWrite(t: T, expr: string, out: Source, ind: number, stack: Set<T>): void {
  const nb = nullable(t);
  if (nb) {
    const v = out.v();
    out.emit(ind, `const ${v} = ${expr};`);
    out.emit(ind, `if (${v} === null) b[p++] = ${nb.nullIndex * 2};`);
    out.emit(ind, `else {`);
    out.emit(ind + 1, `b[p++] = ${nb.index * 2};`);
    genWrite(nb.type, v, out, ind + 1, stack);
    out.emit(ind, `}`);
    return;
  }
  switch (t.typeName) {
    case 'null':
      out.emit(ind, `if (${expr} !== null) throw INVALID;`);
      return;
    case 'boolean': {
      const v = out.v();
      out.emit(ind, `const ${v} = ${expr};`);
      out.emit(ind, `if (typeof ${v} !== 'boolean') throw INVALID;`);
      out.emit(ind, `b[p++] = ${v} ? 1 : 0;`);
      return;
    }
    case 'int': {
      const v = out.v();
      out.emit(ind, `const ${v} = ${expr};`);
      out.emit(ind, `if (${v} !== (${v} | 0)) throw INVALID;`);
      out.emit(ind, `p = wl(b, p, ${v});`);
      return;
    }
    case 'long': {
      const v = out.v();
      out.emit(ind, `const ${v} = ${expr};`);
      out.emit(
        ind,
        // Number.isInteger is avsc's `% 1 === 0` without an fmod call on doubles such as timestamps.
        `if (!Number.isInteger(${v}) || !(${v} >= -9007199254740990 && ${v} <= 9007199254740990)) throw INVALID;`,
      );
      out.emit(ind, `p = wl(b, p, ${v});`);
      return;
    }
    case 'float':
    case 'double': {
      const v = out.v();
      out.emit(ind, `const ${v} = ${expr};`);
      out.emit(ind, `if (typeof ${v} !== 'number') throw INVALID;`);
      if (t.typeName === 'double') {
        out.emit(ind, `F64[0] = ${v};`);
        out.emit(ind, `b[p] = U64[0]; b[p + 1] = U64[1]; b[p + 2] = U64[2]; b[p + 3] = U64[3];`);
        out.emit(ind, `b[p + 4] = U64[4]; b[p + 5] = U64[5]; b[p + 6] = U64[6]; b[p + 7] = U64[7];`);
        out.emit(ind, `p += 8;`);
      } else {
        out.emit(ind, `F32[0] = ${v};`);
        out.emit(ind, `b[p] = U32[0]; b[p + 1] = U32[1]; b[p + 2] = U32[2]; b[p + 3] = U32[3];`);
        out.emit(ind, `p += 4;`);
      }
      return;
    }
    case 'string': {
      const v = out.v();
      out.emit(ind, `const ${v} = ${expr};`);
      out.emit(ind, `if (typeof ${v} !== 'string') throw INVALID;`);
      out.emit(ind, `p = ws(b, p, ${v}, L);`);
      return;
    }
    case 'bytes': {
      const v = out.v();
      out.emit(ind, `const ${v} = ${expr};`);
      out.emit(ind, `if (!Buffer.isBuffer(${v})) throw INVALID;`);
      out.emit(ind, `p = wb(b, p, ${v}, L);`);
      return;
    }
    case 'fixed': {
      const v = out.v();
      out.emit(ind, `const ${v} = ${expr};`);
      out.emit(ind, `if (!Buffer.isBuffer(${v}) || ${v}.length !== ${t.size}) throw INVALID;`);
      out.emit(ind, `b.set(${v}, p);`);
      out.emit(ind, `p += ${t.size};`);
      return;
    }
    case 'enum': {
      const i = out.v('i');
      if (t.symbols!.length <= 64) {
        // Every index is one zig-zag varint byte: look that byte up directly.
        out.emit(ind, `const ${i} = ${out.k(new Map(t.symbols!.map((s, i) => [s, i * 2])))}.get(${expr});`);
        out.emit(ind, `if (${i} === undefined) throw INVALID;`);
        out.emit(ind, `b[p++] = ${i};`);
      } else {
        out.emit(ind, `const ${i} = ${out.k(new Map(t.symbols!.map((s, i) => [s, i])))}.get(${expr});`);
        out.emit(ind, `if (${i} === undefined) throw INVALID;`);
        out.emit(ind, `p = wl(b, p, ${i});`);
      }
      return;
    }
    case 'record': {
      if (stack.has(t)) throw new Unsupported('recursive record');
      stack.add(t);
      const v = out.v();
      out.emit(ind, `const ${v} = ${expr};`);
      out.emit(ind, `if (${v} === null || typeof ${v} !== 'object') throw INVALID;`);
      for (const f of t.fields!) {
        const key = `${v}[${JSON.stringify(f.name)}]`;
        const dflt = f.defaultValue();
        if (dflt === undefined) {
          genWrite(f.type, key, out, ind, stack);
        } else {
          // avsc writes the default's bytes for a missing (undefined) field.
          const bytes = Uint8Array.from(f.type.toBuffer(dflt));
          const fv = out.v();
          out.emit(ind, `const ${fv} = ${key};`);
          out.emit(ind, `if (${fv} === undefined) p = wraw(b, p, ${out.k(bytes)}, L);`);
          out.emit(ind, `else {`);
          genWrite(f.type, fv, out, ind + 1, stack);
          out.emit(ind, `}`);
        }
      }
      stack.delete(t);
      return;
    }
    case 'array': {
      const v = out.v();
      const n = out.v('n');
      const i = out.v('i');
      const item = t.itemsType!;
      out.emit(ind, `const ${v} = ${expr};`);
      out.emit(ind, `if (!Array.isArray(${v})) throw INVALID;`);
      out.emit(ind, `const ${n} = ${v}.length;`);
      out.emit(ind, `if (${n} !== 0) {`);
      out.emit(ind + 1, `if (p + 11 > L) throw OVERFLOW;`);
      out.emit(ind + 1, `p = wl(b, p, ${n});`);
      out.emit(ind + 1, `for (let ${i} = 0; ${i} < ${n}; ${i}++) {`);
      const itemFixed = fixedBound(item, stack);
      out.emit(ind + 2, `if (p + ${itemFixed} > L) throw OVERFLOW;`);
      out.emit(ind + 2, `L -= ${itemFixed};`);
      genWrite(item, `${v}[${i}]`, out, ind + 2, stack);
      out.emit(ind + 2, `L += ${itemFixed};`);
      out.emit(ind + 1, `}`);
      out.emit(ind, `}`);
      out.emit(ind, `if (p + 1 > L) throw OVERFLOW;`);
      out.emit(ind, `b[p++] = 0;`);
      return;
    }
    case 'map': {
      const v = out.v();
      const keys = out.v('keys');
      const n = out.v('n');
      const i = out.v('i');
      const k = out.v('k');
      const values = t.valuesType!;
      out.emit(ind, `const ${v} = ${expr};`);
      out.emit(ind, `if (!${v} || typeof ${v} !== 'object' || Array.isArray(${v})) throw INVALID;`);
      out.emit(ind, `const ${keys} = Object.keys(${v});`);
      out.emit(ind, `const ${n} = ${keys}.length;`);
      out.emit(ind, `if (${n} !== 0) {`);
      out.emit(ind + 1, `if (p + 11 > L) throw OVERFLOW;`);
      out.emit(ind + 1, `p = wl(b, p, ${n});`);
      out.emit(ind + 1, `for (let ${i} = 0; ${i} < ${n}; ${i}++) {`);
      out.emit(ind + 2, `const ${k} = ${keys}[${i}];`);
      out.emit(ind + 2, `p = ws(b, p, ${k}, L);`);
      const valueFixed = fixedBound(values, stack);
      out.emit(ind + 2, `if (p + ${valueFixed} > L) throw OVERFLOW;`);
      out.emit(ind + 2, `L -= ${valueFixed};`);
      genWrite(values, `${v}[${k}]`, out, ind + 2, stack);
      out.emit(ind + 2, `L += ${valueFixed};`);
      out.emit(ind + 1, `}`);
      out.emit(ind, `}`);
      out.emit(ind, `if (p + 1 > L) throw OVERFLOW;`);
      out.emit(ind, `b[p++] = 0;`);
      return;
    }
    default:
      throw new Unsupported(`${t.typeName} type`);
  }
}

/** Upper bound of the encoded size of a (valid) value: strings 3 bytes per UTF-16 unit, varints 10. */
function genSize(t: T, expr: string, out: Source, ind: number): void {
  const nb = nullable(t);
  if (nb) {
    const v = out.v();
    out.emit(ind, `const ${v} = ${expr};`);
    out.emit(ind, `S += 1;`);
    out.emit(ind, `if (${v} !== null) {`);
    genSize(nb.type, v, out, ind + 1);
    out.emit(ind, `}`);
    return;
  }
  switch (t.typeName) {
    case 'string':
      out.emit(ind, `S += 10 + 3 * strlen(${expr});`);
      return;
    case 'bytes':
      out.emit(ind, `S += 10 + (Buffer.isBuffer(${expr}) ? ${expr}.length : 0);`);
      return;
    case 'record': {
      const v = out.v();
      out.emit(ind, `const ${v} = obj(${expr});`);
      for (const f of t.fields!) {
        const d = f.defaultValue();
        if (d !== undefined) out.emit(ind, `S += ${f.type.toBuffer(d).length};`);
        genSize(f.type, `${v}[${JSON.stringify(f.name)}]`, out, ind);
      }
      return;
    }
    case 'array': {
      const v = out.v();
      const x = out.v('x');
      out.emit(ind, `S += 11;`);
      out.emit(ind, `for (const ${x} of list(${expr})) {`);
      genSize(t.itemsType!, x, out, ind + 1);
      out.emit(ind, `}`);
      void v;
      return;
    }
    case 'map': {
      const v = out.v();
      const k = out.v('k');
      out.emit(ind, `const ${v} = obj(${expr});`);
      out.emit(ind, `S += 11;`);
      out.emit(ind, `for (const ${k} of Object.keys(${v})) {`);
      out.emit(ind + 1, `S += 10 + 3 * ${k}.length;`);
      genSize(t.valuesType!, `${v}[${k}]`, out, ind + 1);
      out.emit(ind, `}`);
      return;
    }
    default:
      out.emit(ind, `S += ${fixedBound(t, new Set())};`);
  }
}

/** A compiled writer for `type`, or undefined when the type has parts only avsc handles. */
export function compileWriter(type: avro.Type): CompiledWriter | undefined {
  if (!littleEndian) return undefined;
  const t = type as T;
  try {
    const out = new Source();
    const stack = new Set<T>();
    const fixed = fixedBound(t, stack);
    // L is the limit for variable-length parts (strings, bytes, arrays, maps, defaults): it keeps room
    // for every fixed-size part of the enclosing scopes, which are then written without checks.
    out.emit(1, `const b = buf;`);
    out.emit(1, `let p = pos, L = buf.length - ${fixed};`);
    out.emit(1, `if (p > L) return ${WRITE_OVERFLOW};`);
    out.emit(1, `try {`);
    genWrite(t, 'value', out, 2, stack);
    out.emit(1, `} catch (err) {`);
    out.emit(2, `if (err === INVALID) return ${WRITE_INVALID};`);
    out.emit(2, `if (err === OVERFLOW) return ${WRITE_OVERFLOW};`);
    out.emit(2, `if (err === FALLBACK) return ${WRITE_FALLBACK};`);
    out.emit(2, `throw err;`);
    out.emit(1, `}`);
    out.emit(1, `return p;`);
    const size = new Source();
    genSize(t, 'value', size, 1);
    const source =
      `${writerPrelude}\nfunction write(value, buf, pos) {\n${out.lines.join('\n')}\n}\n` +
      `function maxSize(value) {\n  let S = 0;\n${size.lines.join('\n')}\n  return S;\n}\n` +
      `return { write, maxSize };`;
    const f64 = new Float64Array(1);
    const f32 = new Float32Array(1);
    // Size constants live in their own array (the size function is compiled separately from the writer's).
    const consts = [...out.consts];
    const made = new Function('K', 'F64', 'U64', 'F32', 'U32', 'utf8Write', source) as (...args: unknown[]) => {
      write: CompiledWriter['write'];
      maxSize: CompiledWriter['maxSize'];
    };
    const fns = made(
      consts,
      f64,
      new Uint8Array(f64.buffer),
      f32,
      new Uint8Array(f32.buffer),
      (Buffer.prototype as unknown as { utf8Write: (s: string, o: number, l: number) => number }).utf8Write,
    );
    return { write: fns.write, maxSize: fns.maxSize, source };
  } catch (err) {
    if (err instanceof Unsupported) return undefined;
    throw err;
  }
}

/**
 * Emits code that reads a zig-zag varint into `const name` (or assigns an existing `let`): one-byte
 * values inline, longer ones through `rlx` (`rlxSafe` when a long must stay a safe integer).
 */
function emitVarint(out: Source, ind: number, name: string, safe = false): void {
  out.emit(ind, `let ${name} = b[p];`);
  out.emit(
    ind,
    `if (${name} < 128) { p++; ${name} = (${name} >>> 1) ^ -(${name} & 1); } else { ${name} = ${safe ? 'rlxSafe' : 'rlx'}(b, p); p = P; }`,
  );
}

/** Emits code that reads a byte length into `name` and checks it against the end. */
function emitLength(out: Source, ind: number, name: string): void {
  emitVarint(out, ind, name);
  out.emit(ind, `if (${name} < 0) throw corrupt('negative length ' + ${name});`);
  out.emit(ind, `if (p + ${name} > e) throw trunc();`);
}

/** Emits code that skips a writer value of type `w`. */
function genSkip(w: T, out: Source, ind: number, stack: Set<T>): void {
  const nb = nullable(w);
  if (nb) {
    const br = out.v('br');
    emitVarint(out, ind, br);
    out.emit(ind, `if (${br} === ${nb.index}) {`);
    genSkip(nb.type, out, ind + 1, stack);
    out.emit(ind, `} else if (${br} !== ${nb.nullIndex}) throw corrupt('invalid union index: ' + ${br});`);
    return;
  }
  const skipBytes = (n: string | number) => {
    out.emit(ind, `p += ${n};`);
    out.emit(ind, `if (p > e) throw trunc();`);
  };
  switch (w.typeName) {
    case 'null':
      return;
    case 'boolean':
      return skipBytes(1);
    case 'int':
    case 'long':
    case 'enum':
      out.emit(ind, `p = slx(b, p);`);
      return;
    case 'float':
      return skipBytes(4);
    case 'double':
      return skipBytes(8);
    case 'fixed':
      return skipBytes(w.size!);
    case 'string':
    case 'bytes': {
      const n = out.v('n');
      emitLength(out, ind, n);
      out.emit(ind, `p += ${n};`);
      return;
    }
    case 'record':
      if (stack.has(w)) throw new Unsupported('recursive record');
      stack.add(w);
      for (const f of w.fields!) genSkip(f.type, out, ind, stack);
      stack.delete(w);
      return;
    case 'array':
    case 'map': {
      // Blocks: a count (negative: followed by the block's byte size, which lets us jump), items, ..., a zero count.
      const n = out.v('n');
      const j = out.v('j');
      out.emit(ind, `for (;;) {`);
      emitVarint(out, ind + 1, n);
      out.emit(ind + 1, `if (${n} === 0) break;`);
      out.emit(ind + 1, `if (${n} < 0) {`);
      const size = out.v('size');
      emitLength(out, ind + 2, size);
      out.emit(ind + 2, `p += ${size};`);
      out.emit(ind + 2, `continue;`);
      out.emit(ind + 1, `}`);
      out.emit(ind + 1, `if (${n} > e - p + 1) throw trunc();`);
      out.emit(ind + 1, `for (let ${j} = 0; ${j} < ${n}; ${j}++) {`);
      if (w.typeName === 'map') {
        const k = out.v('n');
        emitLength(out, ind + 2, k);
        out.emit(ind + 2, `p += ${k};`);
      }
      genSkip(w.typeName === 'map' ? w.valuesType! : w.itemsType!, out, ind + 2, stack);
      out.emit(ind + 1, `}`);
      out.emit(ind, `}`);
      return;
    }
    default:
      throw new Unsupported(`${w.typeName} type`);
  }
}

/** Emits the block loop of an array or map; `item` emits the code for one item. */
function emitBlocks(out: Source, ind: number, item: (ind: number) => void): void {
  const n = out.v('n');
  const j = out.v('j');
  out.emit(ind, `for (;;) {`);
  emitVarint(out, ind + 1, n);
  out.emit(ind + 1, `if (${n} === 0) break;`);
  out.emit(ind + 1, `if (${n} < 0) {`);
  out.emit(ind + 2, `${n} = -${n};`);
  out.emit(ind + 2, `p = slx(b, p);`); // the block's byte size, not needed when reading every item
  out.emit(ind + 1, `}`);
  out.emit(ind + 1, `if (${n} > e - p + 1) throw trunc();`);
  out.emit(ind + 1, `for (let ${j} = 0; ${j} < ${n}; ${j}++) {`);
  item(ind + 2);
  out.emit(ind + 1, `}`);
  out.emit(ind, `}`);
}

/**
 * Emits code that reads a writer value of type `w` as reader type `r` (Avro schema resolution) and
 * returns the JS expression holding the result. With `discard` the value is checked exactly as it
 * would be read (same bounds, lengths, varints, union branches, enum indexes, precision, hence the
 * same errors) but nothing is built: strings, bytes, records, arrays and maps are stepped over without
 * allocating, and the expression is `undefined` (a projected reader's unread fields). `project` (a
 * record's field names) builds only those fields of the record `r` (a projected reader's top level).
 */
function genRead(
  w: T,
  r: T,
  out: Source,
  ind: number,
  stack: Set<T>,
  discard = false,
  project?: ReadonlySet<string>,
): string {
  const rn = nullable(r);
  const wn = nullable(w);
  if (rn || wn) {
    if (!rn) throw new Unsupported('nullable writer, non-nullable reader');
    if (discard) {
      if (wn) {
        const br = out.v('br');
        emitVarint(out, ind, br);
        out.emit(ind, `if (${br} === ${wn.index}) {`);
        genRead(wn.type, rn.type, out, ind + 1, stack, true);
        out.emit(ind, `} else if (${br} !== ${wn.nullIndex}) throw corrupt('invalid union index: ' + ${br});`);
      } else if (w.typeName !== 'null') genRead(w, rn.type, out, ind, stack, true);
      return 'undefined';
    }
    const v = out.v();
    out.emit(ind, `let ${v} = null;`);
    if (wn) {
      const br = out.v('br');
      emitVarint(out, ind, br);
      out.emit(ind, `if (${br} === ${wn.index}) {`);
      const inner = genRead(wn.type, rn.type, out, ind + 1, stack);
      out.emit(ind + 1, `${v} = ${inner};`);
      out.emit(ind, `} else if (${br} !== ${wn.nullIndex}) throw corrupt('invalid union index: ' + ${br});`);
    } else if (w.typeName !== 'null') {
      const inner = genRead(w, rn.type, out, ind, stack);
      out.emit(ind, `${v} = ${inner};`);
    }
    return v;
  }
  const promote = (from: string[], to: string) => r.typeName === to && from.includes(w.typeName);
  if (
    w.typeName !== r.typeName &&
    !promote(['int'], 'long') &&
    !promote(['int', 'long', 'float'], 'double') &&
    !promote(['int', 'long'], 'float')
  )
    throw new Unsupported(`${w.typeName} read as ${r.typeName}`);
  switch (w.typeName) {
    case 'null':
      return 'null';
    case 'boolean': {
      const v = out.v();
      out.emit(ind, `if (p >= e) throw trunc();`);
      if (discard) {
        out.emit(ind, `p++;`);
        return 'undefined';
      }
      out.emit(ind, `const ${v} = b[p++] !== 0;`);
      return v;
    }
    case 'int':
    case 'long': {
      const v = out.v();
      // avsc checks the precision only when a long is read as a long.
      const safe = w.typeName === 'long' && r.typeName === 'long';
      if (discard) {
        out.emit(ind, `if (b[p] < 128) p++; else p = vskip(b, p, ${safe});`);
        return 'undefined';
      }
      emitVarint(out, ind, v, safe);
      return v;
    }
    case 'float': {
      const v = out.v();
      out.emit(ind, `if (p + 4 > e) throw trunc();`);
      if (discard) {
        out.emit(ind, `p += 4;`);
        return 'undefined';
      }
      out.emit(ind, `U32[0] = b[p]; U32[1] = b[p + 1]; U32[2] = b[p + 2]; U32[3] = b[p + 3];`);
      out.emit(ind, `const ${v} = F32[0];`);
      out.emit(ind, `p += 4;`);
      return v;
    }
    case 'double': {
      const v = out.v();
      out.emit(ind, `if (p + 8 > e) throw trunc();`);
      if (discard) {
        out.emit(ind, `p += 8;`);
        return 'undefined';
      }
      out.emit(ind, `U64[0] = b[p]; U64[1] = b[p + 1]; U64[2] = b[p + 2]; U64[3] = b[p + 3];`);
      out.emit(ind, `U64[4] = b[p + 4]; U64[5] = b[p + 5]; U64[6] = b[p + 6]; U64[7] = b[p + 7];`);
      out.emit(ind, `const ${v} = F64[0];`);
      out.emit(ind, `p += 8;`);
      return v;
    }
    case 'string': {
      const v = out.v();
      const n = out.v('n');
      emitLength(out, ind, n);
      if (discard) {
        out.emit(ind, `p += ${n};`);
        return 'undefined';
      }
      const cache = out.k(new Array<string>(1 << CACHE_BITS).fill('\u0000'.repeat(64)));
      out.emit(ind, `const ${v} = rsc(${cache}, ${out.k(new Int32Array(3))}, b, p, ${n});`);
      out.emit(ind, `p += ${n};`);
      return v;
    }
    case 'bytes': {
      const v = out.v();
      const n = out.v('n');
      emitLength(out, ind, n);
      if (discard) {
        out.emit(ind, `p += ${n};`);
        return 'undefined';
      }
      out.emit(ind, `const ${v} = copy(b, p, ${n});`);
      out.emit(ind, `p += ${n};`);
      return v;
    }
    case 'fixed': {
      if (w.size !== r.size || w.name !== r.name) throw new Unsupported('fixed resolution');
      const v = out.v();
      out.emit(ind, `if (p + ${w.size} > e) throw trunc();`);
      if (discard) {
        out.emit(ind, `p += ${w.size};`);
        return 'undefined';
      }
      out.emit(ind, `const ${v} = copy(b, p, ${w.size});`);
      out.emit(ind, `p += ${w.size};`);
      return v;
    }
    case 'enum': {
      if (w.name !== r.name) throw new Unsupported('enum renamed');
      const rSymbols = new Set(r.symbols);
      const table = w.symbols!.map((s) => (rSymbols.has(s) ? s : r.default));
      if (table.includes(undefined)) throw new Unsupported('enum without default');
      const v = out.v();
      const i = out.v('i');
      emitVarint(out, ind, i);
      out.emit(ind, `const ${v} = ${out.k(table)}[${i}];`);
      out.emit(ind, `if (${v} === undefined) throw corrupt('invalid ${w.name} enum index: ' + ${i});`);
      return v;
    }
    case 'record': {
      if (w.name !== r.name) throw new Unsupported('record renamed');
      if (stack.has(w) || stack.has(r)) throw new Unsupported('recursive record');
      stack.add(w);
      stack.add(r);
      const readerFields = new Map(r.fields!.map((f) => [f.name, f]));
      if (r.fields!.some((f) => f.aliases?.length)) throw new Unsupported('field aliases');
      // A projection (top level only) builds just its fields; the others are checked and stepped over.
      const built = (name: string) => !discard && (project === undefined || project.has(name));
      const got = new Map<string, string>();
      for (const wf of w.fields!) {
        const rf = readerFields.get(wf.name);
        if (rf) got.set(wf.name, genRead(wf.type, rf.type, out, ind, stack, !built(rf.name)));
        else genSkip(wf.type, out, ind, stack);
      }
      const parts: string[] = [];
      for (const rf of r.fields!) {
        let expr = got.get(rf.name);
        if (expr === undefined) {
          const d = rf.defaultValue();
          if (d === undefined || !primitiveDefault(d)) throw new Unsupported('non-primitive default');
          expr = JSON.stringify(d);
        }
        if (built(rf.name)) parts.push(`${JSON.stringify(rf.name)}: ${expr}`);
      }
      stack.delete(w);
      stack.delete(r);
      if (discard) return 'undefined';
      const v = out.v();
      out.emit(ind, `const ${v} = { ${parts.join(', ')} };`);
      return v;
    }
    case 'array': {
      if (discard) {
        emitBlocks(out, ind, (ind2) => void genRead(w.itemsType!, r.itemsType!, out, ind2, stack, true));
        return 'undefined';
      }
      const v = out.v();
      out.emit(ind, `const ${v} = [];`);
      emitBlocks(out, ind, (ind2) => {
        const item = genRead(w.itemsType!, r.itemsType!, out, ind2, stack);
        out.emit(ind2, `${v}.push(${item});`);
      });
      return v;
    }
    case 'map': {
      const v = out.v();
      if (!discard) out.emit(ind, `const ${v} = {};`);
      emitBlocks(out, ind, (ind2) => {
        const n = out.v('n');
        emitLength(out, ind2, n);
        if (discard) {
          out.emit(ind2, `p += ${n};`);
          genRead(w.valuesType!, r.valuesType!, out, ind2, stack, true);
          return;
        }
        const k = out.v('k');
        out.emit(ind2, `const ${k} = utf8Slice.call(b, p, p + ${n});`);
        out.emit(ind2, `p += ${n};`);
        const value = genRead(w.valuesType!, r.valuesType!, out, ind2, stack);
        out.emit(ind2, `${v}[${k}] = ${value};`);
      });
      return discard ? 'undefined' : v;
    }
    default:
      throw new Unsupported(`${w.typeName} type`);
  }
}

/**
 * A compiled reader of values written with `writer`, returned as `reader` values (Avro schema
 * resolution; pass the same type twice when they are equal), or undefined when the pair has parts only
 * avsc handles. Call avsc's `reader.createResolver(writer)` first: this assumes the pair resolves.
 *
 * With `fields` (a projection) a record reader builds only those top-level fields (in reader field
 * order; names the reader does not have are ignored): the others are checked exactly as a full read
 * checks them, so the same bytes are accepted and the same errors thrown, but nothing is built for them
 * (a skipped string is a length check and a jump). Without `fields`, or for a non-record reader, the
 * whole value is built.
 */
export function compileReader(
  writer: avro.Type,
  reader: avro.Type = writer,
  fields?: readonly string[],
): CompiledReader | undefined {
  if (!littleEndian) return undefined;
  try {
    const out = new Source();
    const project = fields !== undefined && (reader as T).typeName === 'record' ? new Set(fields) : undefined;
    const result = genRead(writer as T, reader as T, out, 1, new Set(), false, project);
    const source =
      `${readerPrelude}\nconst SHIFT = ${32 - CACHE_BITS};\n` +
      `function read(buf, pos, end) {\n  const b = buf, e = end === undefined ? buf.length : end;\n  let p = pos;\n${out.lines.join('\n')}\n` +
      `  if (p > e) throw trunc();\n  P = p;\n  return ${result};\n}\n` +
      `return { read, end: () => P };`;
    const f64 = new Float64Array(1);
    const f32 = new Float32Array(1);
    const made = new Function('K', 'F64', 'U64', 'F32', 'U32', 'ReadError', 'utf8Slice', source) as (
      ...args: unknown[]
    ) => { read: CompiledReader['read']; end: CompiledReader['end'] };
    const fns = made(
      out.consts,
      f64,
      new Uint8Array(f64.buffer),
      f32,
      new Uint8Array(f32.buffer),
      CompiledReadError,
      (Buffer.prototype as unknown as { utf8Slice: (s: number, e: number) => string }).utf8Slice,
    );
    return { read: fns.read, end: fns.end, source };
  } catch (err) {
    if (err instanceof Unsupported) return undefined;
    throw err;
  }
}
