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
   * CompiledReadError (truncated or corrupt bytes). Reads never go past `buf.length`.
   */
  read(buf: Uint8Array, pos: number): unknown;
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

/** Code shared by every generated writer (closure state B, P, L: buffer, position, length). */
const writerPrelude = `
"use strict";
let B = null, P = 0, L = 0;
const INVALID = {}, OVERFLOW = {}, FALLBACK = {};
function wl(n) {
  if (n >= -1073741824 && n < 1073741824) {
    let m = n >= 0 ? n << 1 : (~n << 1) | 1;
    while (m > 127) { B[P++] = (m & 127) | 128; m >>>= 7; }
    B[P++] = m;
  } else {
    let f = n >= 0 ? n * 2 : -n * 2 - 1;
    while (f >= 128) { B[P++] = (f & 127) | 128; f /= 128; }
    B[P++] = f & 127;
  }
}
function wd(d) {
  F64[0] = d;
  B[P] = U64[0]; B[P + 1] = U64[1]; B[P + 2] = U64[2]; B[P + 3] = U64[3];
  B[P + 4] = U64[4]; B[P + 5] = U64[5]; B[P + 6] = U64[6]; B[P + 7] = U64[7];
  P += 8;
}
function wf(d) {
  F32[0] = d;
  B[P] = U32[0]; B[P + 1] = U32[1]; B[P + 2] = U32[2]; B[P + 3] = U32[3];
  P += 4;
}
function ws(s) {
  const n = s.length;
  if (n < 64) {
    if (P + 1 + n > L) throw OVERFLOW;
    let q = P + 1;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c > 127) return wsSlow(s);
      B[q++] = c;
    }
    B[P] = n << 1;
    P = q;
    return;
  }
  wsSlow(s);
}
function wsSlow(s) {
  if (!s.isWellFormed()) throw FALLBACK;
  const len = Buffer.byteLength(s, 'utf8');
  if (P + 10 + len > L) throw OVERFLOW;
  wl(len);
  P += Buffer.prototype.utf8Write.call(B, s, P, len);
}
// For maxSize, which may see invalid values (a too-small buffer can be noticed before a bad field).
const strlen = (s) => (typeof s === 'string' ? s.length : 0);
const list = (a) => (Array.isArray(a) ? a : []);
const obj = (o) => (o !== null && typeof o === 'object' ? o : {});
function wb(b, len) {
  if (P + 10 + len > L) throw OVERFLOW;
  wl(len);
  B.set(b, P);
  P += len;
}
function wraw(bytes) {
  if (P + bytes.length > L) throw OVERFLOW;
  for (let i = 0; i < bytes.length; i++) B[P++] = bytes[i];
}
`;

/** Code shared by every generated reader (closure state B, P, E: buffer, position, end). */
const readerPrelude = `
"use strict";
let B = null, P = 0, E = 0;
function trunc() { return new ReadError('the bytes end inside a value', true); }
function corrupt(m) { return new ReadError(m, false); }
function rl() {
  let b = B[P++], n = b & 127;
  if (b < 128) return (n >>> 1) ^ -(n & 1);
  b = B[P++]; n |= (b & 127) << 7;
  if (b < 128) return (n >>> 1) ^ -(n & 1);
  b = B[P++]; n |= (b & 127) << 14;
  if (b < 128) return (n >>> 1) ^ -(n & 1);
  b = B[P++]; n |= (b & 127) << 21;
  if (b < 128) return (n >>> 1) ^ -(n & 1);
  if (b === undefined) throw trunc();
  let f = n, k = 268435456, i = 4;
  do {
    b = B[P++];
    if (b === undefined) throw trunc();
    if (++i > 10) throw corrupt('varint longer than 10 bytes');
    f += (b & 127) * k;
    k *= 128;
  } while (b > 127);
  return (f % 2 ? -(f + 1) : f) / 2;
}
function rlong() {
  const n = rl();
  if (n < -9007199254740990 || n > 9007199254740990) throw corrupt('potential precision loss');
  return n;
}
function rd() {
  if (P + 8 > E) throw trunc();
  U64[0] = B[P]; U64[1] = B[P + 1]; U64[2] = B[P + 2]; U64[3] = B[P + 3];
  U64[4] = B[P + 4]; U64[5] = B[P + 5]; U64[6] = B[P + 6]; U64[7] = B[P + 7];
  P += 8;
  return F64[0];
}
function rf() {
  if (P + 4 > E) throw trunc();
  U32[0] = B[P]; U32[1] = B[P + 1]; U32[2] = B[P + 2]; U32[3] = B[P + 3];
  P += 4;
  return F32[0];
}
function rlen() {
  const n = rl();
  if (n < 0) throw corrupt('negative length ' + n);
  if (P + n > E) throw trunc();
  return n;
}
/** A string through the per-field cache C (an array of 2^CACHE_BITS strings). */
function rsc(C) {
  const n = rlen();
  const s = P, e = P + n;
  P = e;
  if (n > 32) return slice(s, e);
  let h = n;
  for (let i = s; i < e; i++) h = Math.imul(h ^ B[i], 16777619);
  const slot = h >>> SHIFT;
  const c = C[slot];
  if (c.length === n) {
    let i = 0;
    while (i < n && c.charCodeAt(i) === B[s + i]) i++;
    if (i === n) return c;
  }
  return (C[slot] = slice(s, e));
}
function slice(s, e) {
  return utf8Slice.call(B, s, e);
}
function rs() {
  const n = rlen();
  const s = P;
  P += n;
  return slice(s, P);
}
function rbytes() {
  const n = rlen();
  const out = Buffer.allocUnsafe(n);
  out.set(B.subarray(P, P + n));
  P += n;
  return out;
}
function rfixed(n) {
  if (P + n > E) throw trunc();
  const out = Buffer.allocUnsafe(n);
  out.set(B.subarray(P, P + n));
  P += n;
  return out;
}
function sl() {
  let b;
  do {
    b = B[P++];
    if (b === undefined) throw trunc();
  } while (b > 127);
}
function skip(n) {
  if (n < 0) throw corrupt('negative length ' + n);
  P += n;
  if (P > E) throw trunc();
}
function count() {
  let n = rl();
  if (n < 0) { n = -n; rl(); }
  return n;
}
`;

/** Bits of the per-field string cache index (256 entries). */
const CACHE_BITS = 8;

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
    out.emit(ind, `if (${v} === null) B[P++] = ${nb.nullIndex * 2};`);
    out.emit(ind, `else {`);
    out.emit(ind + 1, `B[P++] = ${nb.index * 2};`);
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
      out.emit(ind, `B[P++] = ${v} ? 1 : 0;`);
      return;
    }
    case 'int': {
      const v = out.v();
      out.emit(ind, `const ${v} = ${expr};`);
      out.emit(ind, `if (${v} !== (${v} | 0)) throw INVALID;`);
      out.emit(ind, `wl(${v});`);
      return;
    }
    case 'long': {
      const v = out.v();
      out.emit(ind, `const ${v} = ${expr};`);
      out.emit(
        ind,
        `if (typeof ${v} !== 'number' || ${v} % 1 !== 0 || !(${v} >= -9007199254740990 && ${v} <= 9007199254740990)) throw INVALID;`,
      );
      out.emit(ind, `wl(${v});`);
      return;
    }
    case 'float':
    case 'double': {
      const v = out.v();
      out.emit(ind, `const ${v} = ${expr};`);
      out.emit(ind, `if (typeof ${v} !== 'number') throw INVALID;`);
      out.emit(ind, `${t.typeName === 'double' ? 'wd' : 'wf'}(${v});`);
      return;
    }
    case 'string': {
      const v = out.v();
      out.emit(ind, `const ${v} = ${expr};`);
      out.emit(ind, `if (typeof ${v} !== 'string') throw INVALID;`);
      out.emit(ind, `ws(${v});`);
      return;
    }
    case 'bytes': {
      const v = out.v();
      out.emit(ind, `const ${v} = ${expr};`);
      out.emit(ind, `if (!Buffer.isBuffer(${v})) throw INVALID;`);
      out.emit(ind, `wb(${v}, ${v}.length);`);
      return;
    }
    case 'fixed': {
      const v = out.v();
      out.emit(ind, `const ${v} = ${expr};`);
      out.emit(ind, `if (!Buffer.isBuffer(${v}) || ${v}.length !== ${t.size}) throw INVALID;`);
      out.emit(ind, `B.set(${v}, P); P += ${t.size};`);
      return;
    }
    case 'enum': {
      const index = new Map(t.symbols!.map((s, i) => [s, i]));
      const i = out.v('i');
      out.emit(ind, `const ${i} = ${out.k(index)}.get(${expr});`);
      out.emit(ind, `if (${i} === undefined) throw INVALID;`);
      out.emit(ind, `wl(${i});`);
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
          out.emit(ind, `if (${fv} === undefined) wraw(${out.k(bytes)});`);
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
      out.emit(ind + 1, `if (P + 11 > L) throw OVERFLOW;`);
      out.emit(ind + 1, `wl(${n});`);
      out.emit(ind + 1, `for (let ${i} = 0; ${i} < ${n}; ${i}++) {`);
      const itemFixed = fixedBound(item, stack);
      out.emit(ind + 2, `if (P + ${itemFixed} > L) throw OVERFLOW;`);
      out.emit(ind + 2, `L -= ${itemFixed};`);
      genWrite(item, `${v}[${i}]`, out, ind + 2, stack);
      out.emit(ind + 2, `L += ${itemFixed};`);
      out.emit(ind + 1, `}`);
      out.emit(ind, `}`);
      out.emit(ind, `if (P + 1 > L) throw OVERFLOW;`);
      out.emit(ind, `B[P++] = 0;`);
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
      out.emit(ind + 1, `if (P + 11 > L) throw OVERFLOW;`);
      out.emit(ind + 1, `wl(${n});`);
      out.emit(ind + 1, `for (let ${i} = 0; ${i} < ${n}; ${i}++) {`);
      out.emit(ind + 2, `const ${k} = ${keys}[${i}];`);
      out.emit(ind + 2, `ws(${k});`);
      const valueFixed = fixedBound(values, stack);
      out.emit(ind + 2, `if (P + ${valueFixed} > L) throw OVERFLOW;`);
      out.emit(ind + 2, `L -= ${valueFixed};`);
      genWrite(values, `${v}[${k}]`, out, ind + 2, stack);
      out.emit(ind + 2, `L += ${valueFixed};`);
      out.emit(ind + 1, `}`);
      out.emit(ind, `}`);
      out.emit(ind, `if (P + 1 > L) throw OVERFLOW;`);
      out.emit(ind, `B[P++] = 0;`);
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
    out.emit(1, `B = buf; P = pos; L = buf.length - ${fixed};`);
    out.emit(1, `if (P > L) return ${WRITE_OVERFLOW};`);
    out.emit(1, `try {`);
    genWrite(t, 'value', out, 2, stack);
    out.emit(1, `} catch (err) {`);
    out.emit(2, `if (err === INVALID) return ${WRITE_INVALID};`);
    out.emit(2, `if (err === OVERFLOW) return ${WRITE_OVERFLOW};`);
    out.emit(2, `if (err === FALLBACK) return ${WRITE_FALLBACK};`);
    out.emit(2, `throw err;`);
    out.emit(1, `} finally { B = null; }`);
    out.emit(1, `return P;`);
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
    const made = new Function('K', 'F64', 'U64', 'F32', 'U32', source) as (...args: unknown[]) => {
      write: CompiledWriter['write'];
      maxSize: CompiledWriter['maxSize'];
    };
    const fns = made(consts, f64, new Uint8Array(f64.buffer), f32, new Uint8Array(f32.buffer));
    return { write: fns.write, maxSize: fns.maxSize, source };
  } catch (err) {
    if (err instanceof Unsupported) return undefined;
    throw err;
  }
}

/** Emits code that skips a writer value of type `w`. */
function genSkip(w: T, out: Source, ind: number, stack: Set<T>): void {
  const nb = nullable(w);
  if (nb) {
    const b = out.v('b');
    out.emit(ind, `const ${b} = rl();`);
    out.emit(ind, `if (${b} === ${nb.index}) {`);
    genSkip(nb.type, out, ind + 1, stack);
    out.emit(ind, `} else if (${b} !== ${nb.nullIndex}) throw corrupt('invalid union index: ' + ${b});`);
    return;
  }
  switch (w.typeName) {
    case 'null':
      return;
    case 'boolean':
      out.emit(ind, `skip(1);`);
      return;
    case 'int':
    case 'long':
    case 'enum':
      out.emit(ind, `sl();`);
      return;
    case 'float':
      out.emit(ind, `skip(4);`);
      return;
    case 'double':
      out.emit(ind, `skip(8);`);
      return;
    case 'fixed':
      out.emit(ind, `skip(${w.size});`);
      return;
    case 'string':
    case 'bytes':
      out.emit(ind, `skip(rl());`);
      return;
    case 'record':
      if (stack.has(w)) throw new Unsupported('recursive record');
      stack.add(w);
      for (const f of w.fields!) genSkip(f.type, out, ind, stack);
      stack.delete(w);
      return;
    case 'array':
    case 'map': {
      // Blocks: a count (negative: followed by the block's byte size), items, ..., a zero count.
      const n = out.v('n');
      out.emit(ind, `for (let ${n} = rl(); ${n} !== 0; ${n} = rl()) {`);
      out.emit(ind + 1, `if (${n} < 0) { skip(rl()); continue; }`);
      out.emit(ind + 1, `for (let j = 0; j < ${n}; j++) {`);
      if (w.typeName === 'map') out.emit(ind + 2, `skip(rl());`);
      genSkip(w.typeName === 'map' ? w.valuesType! : w.itemsType!, out, ind + 2, stack);
      out.emit(ind + 2, `if (P > E) throw trunc();`);
      out.emit(ind + 1, `}`);
      out.emit(ind, `}`);
      return;
    }
    default:
      throw new Unsupported(`${w.typeName} type`);
  }
}

/**
 * Emits code that reads a writer value of type `w` as reader type `r` (Avro schema resolution) and
 * returns the JS expression holding the result.
 */
function genRead(w: T, r: T, out: Source, ind: number, stack: Set<T>): string {
  const rn = nullable(r);
  const wn = nullable(w);
  if (rn || wn) {
    if (!rn) throw new Unsupported('nullable writer, non-nullable reader');
    const v = out.v();
    out.emit(ind, `let ${v} = null;`);
    if (wn) {
      const b = out.v('b');
      out.emit(ind, `const ${b} = rl();`);
      out.emit(ind, `if (${b} === ${wn.index}) {`);
      const inner = genRead(wn.type, rn.type, out, ind + 1, stack);
      out.emit(ind + 1, `${v} = ${inner};`);
      out.emit(ind, `} else if (${b} !== ${wn.nullIndex}) throw corrupt('invalid union index: ' + ${b});`);
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
      out.emit(ind, `if (P >= E) throw trunc();`);
      out.emit(ind, `const ${v} = B[P++] !== 0;`);
      return v;
    }
    case 'int': {
      const v = out.v();
      out.emit(ind, `const ${v} = rl();`);
      return v;
    }
    case 'long': {
      const v = out.v();
      // avsc checks the precision only when a long is read as a long.
      out.emit(ind, `const ${v} = ${r.typeName === 'long' ? 'rlong' : 'rl'}();`);
      return v;
    }
    case 'float': {
      const v = out.v();
      out.emit(ind, `const ${v} = rf();`);
      return v;
    }
    case 'double': {
      const v = out.v();
      out.emit(ind, `const ${v} = rd();`);
      return v;
    }
    case 'string': {
      const v = out.v();
      out.emit(ind, `const ${v} = rsc(${out.k(new Array<string>(1 << CACHE_BITS).fill('\u0000'.repeat(64)))});`);
      return v;
    }
    case 'bytes': {
      const v = out.v();
      out.emit(ind, `const ${v} = rbytes();`);
      return v;
    }
    case 'fixed': {
      if (w.size !== r.size || w.name !== r.name) throw new Unsupported('fixed resolution');
      const v = out.v();
      out.emit(ind, `const ${v} = rfixed(${w.size});`);
      return v;
    }
    case 'enum': {
      if (w.name !== r.name) throw new Unsupported('enum renamed');
      const rSymbols = new Set(r.symbols);
      const table = w.symbols!.map((s) => (rSymbols.has(s) ? s : r.default));
      if (table.includes(undefined)) throw new Unsupported('enum without default');
      const v = out.v();
      const i = out.v('i');
      out.emit(ind, `const ${i} = rl();`);
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
      const got = new Map<string, string>();
      for (const wf of w.fields!) {
        const rf = readerFields.get(wf.name);
        if (rf) got.set(wf.name, genRead(wf.type, rf.type, out, ind, stack));
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
        parts.push(`${JSON.stringify(rf.name)}: ${expr}`);
      }
      stack.delete(w);
      stack.delete(r);
      const v = out.v();
      out.emit(ind, `const ${v} = { ${parts.join(', ')} };`);
      return v;
    }
    case 'array': {
      const v = out.v();
      const n = out.v('n');
      const j = out.v('j');
      out.emit(ind, `const ${v} = [];`);
      out.emit(ind, `for (let ${n} = count(); ${n} !== 0; ${n} = count()) {`);
      out.emit(ind + 1, `if (${n} > E - P + 1) throw trunc();`);
      out.emit(ind + 1, `for (let ${j} = 0; ${j} < ${n}; ${j}++) {`);
      const item = genRead(w.itemsType!, r.itemsType!, out, ind + 2, stack);
      out.emit(ind + 2, `${v}.push(${item});`);
      out.emit(ind + 1, `}`);
      out.emit(ind, `}`);
      return v;
    }
    case 'map': {
      const v = out.v();
      const n = out.v('n');
      const j = out.v('j');
      out.emit(ind, `const ${v} = {};`);
      out.emit(ind, `for (let ${n} = count(); ${n} !== 0; ${n} = count()) {`);
      out.emit(ind + 1, `if (${n} > E - P + 1) throw trunc();`);
      out.emit(ind + 1, `for (let ${j} = 0; ${j} < ${n}; ${j}++) {`);
      const k = out.v('k');
      out.emit(ind + 2, `const ${k} = rs();`);
      const value = genRead(w.valuesType!, r.valuesType!, out, ind + 2, stack);
      out.emit(ind + 2, `${v}[${k}] = ${value};`);
      out.emit(ind + 1, `}`);
      out.emit(ind, `}`);
      return v;
    }
    default:
      throw new Unsupported(`${w.typeName} type`);
  }
}

/**
 * A compiled reader of values written with `writer`, returned as `reader` values (Avro schema
 * resolution; pass the same type twice when they are equal), or undefined when the pair has parts only
 * avsc handles. Call avsc's `reader.createResolver(writer)` first: this assumes the pair resolves.
 */
export function compileReader(writer: avro.Type, reader: avro.Type = writer): CompiledReader | undefined {
  if (!littleEndian) return undefined;
  try {
    const out = new Source();
    const result = genRead(writer as T, reader as T, out, 1, new Set());
    const source =
      `${readerPrelude}\nconst SHIFT = ${32 - CACHE_BITS};\n` +
      `function read(buf, pos) {\n  B = buf; P = pos; E = buf.length;\n${out.lines.join('\n')}\n  if (P > E) throw trunc();\n  return ${result};\n}\n` +
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
