/**
 * The fast path of the JSON-lines reader: flattens one line of compact JSON (what BigQuery's
 * `EXPORT DATA (format='JSON')` writes) in a single pass over its text, without building the parsed
 * object tree that lossless-json + `flatten` (jsonl-rows.ts) build and walk.
 *
 * It returns exactly what the slow path returns, or `undefined` and the line takes the slow path.
 * So it only accepts the plain shape and gives up on everything else, including every line the slow
 * path would reject with an error message:
 *   - a control character anywhere (raw ones are invalid in JSON strings; \t \r \n between tokens
 *     are whitespace, which compact JSON does not have), or a lone surrogate (JSON.stringify escapes
 *     it; the reader's lines are checked UTF-8 and never hold one);
 *   - an escape in a key or inside an array (a string value with escapes, such as BigQuery's
 *     `\u003c` for `<`, is decoded by JSON.parse, which decodes escapes as lossless-json does);
 *   - whitespace between tokens, a top level that is not one object, anything after it;
 *   - a key that is empty, starts with a digit (JavaScript orders integer-like keys first, so the
 *     slow path's column order would differ) or is `__proto__`;
 *   - a flattened path met twice (a duplicate key, or `a.b` beside `a: {b}`: the slow path decides
 *     whether that is an error or a deep-equal duplicate);
 *   - a number that is not a JSON number.
 *   - nesting deeper than 32 (also what keeps a hostile line from exhausting the stack).
 * Arrays are kept whole as their source text, which is their canonical (lossless-json stringify)
 * text when none of the above occurs inside them; objects inside arrays must not repeat a key.
 *
 * The same scanner serves `parseCompactJsonKeepingNumberText`, for JSON cells (below).
 *
 * Measured by `npm run bench -- collector-gcp` and `parse-ceiling` (bench/README.md has the
 * before/after); test/unit/collectors/compact-json.test.ts compares both paths on generated, real
 * and mutated lines.
 */

declare global {
  interface String {
    /** ES2024, in Node since 20: false when the string holds a lone surrogate. */
    isWellFormed(): boolean;
  }
}

const CONTROL = /[\u0000-\u001f]/;
const JSON_NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;

const SPACE = 0x20;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const MINUS = 0x2d;
const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;

const WORDS = ['true', 'false', 'null'] as const;

/** One pass's state: module-level, as the reader flattens one line at a time and never re-enters. */
let src = '';
/** Whether src holds a backslash at all: without one, a string ends at the next quote. */
let escapes = false;
/** The first backslash at or after the last position `escaped` looked from (Infinity: none). */
let nextBackslash = Infinity;
let at = 0;
let out: Record<string, string> = {};
const seen = new Set<string>();
/** Where parseCompactJsonKeepingNumberText collects the numbers' [start, end) offsets. */
let numberSpans: number[] | undefined;
/** Whether spaces may stand between tokens: when parsing a cell; never when flattening a line,
 * whose arrays are kept as their text. */
let allowSpaces = false;

/** Starts a pass over `text`; false when it holds a control character or a lone surrogate. */
function begin(text: string): boolean {
  if (CONTROL.test(text) || !text.isWellFormed()) return false;
  src = text;
  const firstBackslash = text.indexOf('\\');
  escapes = firstBackslash !== -1;
  nextBackslash = escapes ? firstBackslash : Infinity;
  at = 0;
  return true;
}

export function flattenCompactJson(text: string): Record<string, string> | undefined {
  if (text.charCodeAt(0) !== OPEN_BRACE || !begin(text)) return undefined;
  out = {};
  seen.clear();
  const ok = flattenObject('', rootShape, 0) && at === src.length;
  const columns = out;
  src = '';
  out = {};
  return ok ? columns : undefined;
}

/**
 * What lossless-json's `parse(text, null, keepText)` gives (numbers as their source text, as
 * strings), made by the native JSON.parse: the text is checked as JSON under the same rules as the
 * lines above (one value, nothing after it), except that spaces may stand between tokens, then its
 * numbers are quoted and it is parsed. Undefined when the text is not in that shape; the caller then
 * parses it with lossless-json. GCP's labels and credits cells and Azure's tags are read this way on
 * every row.
 */
export function parseCompactJsonKeepingNumberText(text: string): { value: unknown } | undefined {
  if (!begin(text)) return undefined;
  const spans: number[] = [];
  numberSpans = spans;
  allowSpaces = true;
  spaces();
  let ok = skipValue(0);
  spaces();
  ok &&= at === src.length;
  allowSpaces = false;
  numberSpans = undefined;
  src = '';
  if (!ok) return undefined;
  if (spans.length === 0) return { value: JSON.parse(text) };
  let quoted = '';
  let from = 0;
  for (let i = 0; i < spans.length; i += 2) {
    quoted += `${text.slice(from, spans[i])}"${text.slice(spans[i], spans[i + 1])}"`;
    from = spans[i + 1];
  }
  return { value: JSON.parse(quoted + text.slice(from)) };
}

/** Where the string opened at `from` ends (its closing quote), or -1. */
function stringEnd(from: number): number {
  let end = src.indexOf('"', from + 1);
  if (!escapes) return end;
  while (end !== -1) {
    let backslashes = 0;
    while (src.charCodeAt(end - 1 - backslashes) === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return end;
    end = src.indexOf('"', end + 1);
  }
  return -1;
}

/** Whether src[from, to) holds a backslash (`at` only moves forward, so the search does too). */
function escaped(from: number, to: number): boolean {
  if (nextBackslash < from) {
    const b = src.indexOf('\\', from);
    nextBackslash = b === -1 ? Infinity : b;
  }
  return nextBackslash < to;
}

/** The key at `at` (a string without escapes), or undefined; leaves `at` after its closing quote. */
function readKey(): string | undefined {
  if (src.charCodeAt(at) !== QUOTE) return undefined;
  const end = stringEnd(at);
  if (end === -1 || escaped(at, end)) return undefined;
  const key = src.slice(at + 1, end);
  const first = key.charCodeAt(0);
  if (key === '' || (first >= DIGIT_0 && first <= DIGIT_9) || key === '__proto__') return undefined;
  at = end + 1;
  return key;
}

/**
 * The members an object had in the last line read, in order. Lines of one export repeat the same
 * keys in the same order, so a member is usually recognised by comparing its key text in place, and
 * its path string is the one built for an earlier line: no string is built or hashed per member.
 * A member that differs is read afresh and replaces the remembered one.
 */
interface Shape {
  members: Member[];
}
interface Member {
  key: string;
  /** prefix + key, as an internalized string (a property key of every `out`). */
  path: string;
  /** `${path}.` and the members of the object it holds, when it held one. */
  child?: { prefix: string; shape: Shape };
}

/**
 * Members remembered at once, over all objects. Past it the memory starts again from the next
 * member: an export that keeps changing shape (or a hostile one) cannot grow it without bound.
 */
const MAX_REMEMBERED_MEMBERS = 4096;
let remembered = 0;
/** Keys of one object inside an array (or a parsed cell) checked for duplicates; wider goes to the general path. */
const MAX_CHECKED_KEYS = 64;
/** Deeper objects and arrays go to the general path (and a hostile line cannot exhaust the stack). */
const MAX_DEPTH = 32;

let rootShape: Shape = { members: [] };

/** The string V8 keeps for `s` as a property key: built once, its hash computed once. */
function internalized(s: string): string {
  return Object.keys({ [s]: 0 })[0];
}

/** The member at `at` if it is the remembered `m` (same key text, then a colon), else a fresh one. */
function readMember(prefix: string, shape: Shape, i: number): Member | undefined {
  const m = shape.members[i];
  if (
    m !== undefined &&
    src.charCodeAt(at) === QUOTE &&
    src.startsWith(m.key, at + 1) &&
    src.charCodeAt(at + 1 + m.key.length) === QUOTE
  ) {
    // The remembered key holds no backslash, so the quote after it closes it.
    at += m.key.length + 2;
    return m;
  }
  const key = readKey();
  if (key === undefined) return undefined;
  // Both strings internalized: a slice of the line would keep the whole line alive in the cache.
  const fresh: Member = { key: internalized(key), path: internalized(prefix + key) };
  if (remembered >= MAX_REMEMBERED_MEMBERS) {
    rootShape = { members: [] };
    remembered = 0;
  }
  shape.members[i] = fresh;
  remembered++;
  return fresh;
}

function flattenObject(prefix: string, shape: Shape, depth: number): boolean {
  if (depth > MAX_DEPTH) return false;
  at++; // '{'
  if (src.charCodeAt(at) === CLOSE_BRACE) {
    at++;
    return true;
  }
  for (let i = 0; ; i++) {
    const m = readMember(prefix, shape, i);
    if (m === undefined || src.charCodeAt(at) !== COLON) return false;
    at++;
    const path = m.path;
    if (seen.has(path)) return false;
    seen.add(path);
    if (src.charCodeAt(at) === OPEN_BRACE) {
      m.child ??= { prefix: internalized(`${path}.`), shape: { members: [] } };
      if (!flattenObject(m.child.prefix, m.child.shape, depth + 1)) return false;
    } else if (!flattenValue(path, depth)) return false;
    const c = src.charCodeAt(at++);
    if (c === CLOSE_BRACE) return true;
    if (c !== COMMA) return false;
  }
}

function flattenValue(path: string, depth: number): boolean {
  const c = src.charCodeAt(at);
  if (c === QUOTE) {
    const end = stringEnd(at);
    if (end === -1) return false;
    let text = src.slice(at + 1, end);
    if (escaped(at, end)) {
      try {
        text = JSON.parse(src.slice(at, end + 1)) as string;
      } catch {
        return false;
      }
    }
    if (text !== '') out[path] = text;
    at = end + 1;
    return true;
  }
  if (c === OPEN_BRACKET) {
    const start = at;
    if (!skipArray(depth + 1)) return false;
    out[path] = src.slice(start, at);
    return true;
  }
  const scalar = skipScalar();
  if (scalar === undefined) return false;
  if (scalar !== 'null') out[path] = scalar;
  return true;
}

/** A number, true, false or null at `at`, as its text; undefined when it is none of them. */
function skipScalar(): string | undefined {
  const c = src.charCodeAt(at);
  if (c === MINUS || (c >= DIGIT_0 && c <= DIGIT_9)) {
    const start = at;
    let d = c;
    // Take every character a number can hold; the grammar is checked on the whole text.
    while (
      (d >= DIGIT_0 && d <= DIGIT_9) ||
      d === MINUS ||
      d === 0x2b /* + */ ||
      d === 0x2e /* . */ ||
      d === 0x65 /* e */ ||
      d === 0x45 /* E */
    ) {
      d = src.charCodeAt(++at);
    }
    const text = src.slice(start, at);
    if (!JSON_NUMBER.test(text)) return undefined;
    numberSpans?.push(start, at);
    return text;
  }
  for (const word of WORDS) {
    if (src.startsWith(word, at)) {
      at += word.length;
      return word;
    }
  }
  return undefined;
}

/** Steps over an array (at `[`), checking it is canonical JSON as described above. */
function skipArray(depth: number): boolean {
  if (depth > MAX_DEPTH) return false;
  at++; // '['
  spaces();
  if (src.charCodeAt(at) === CLOSE_BRACKET) {
    at++;
    return true;
  }
  for (;;) {
    if (!skipValue(depth)) return false;
    spaces();
    const c = src.charCodeAt(at++);
    if (c === CLOSE_BRACKET) return true;
    if (c !== COMMA) return false;
    spaces();
  }
}

function skipValue(depth: number): boolean {
  const c = src.charCodeAt(at);
  if (c === QUOTE) {
    const end = stringEnd(at);
    if (end === -1 || escaped(at, end)) return false;
    at = end + 1;
    return true;
  }
  if (c === OPEN_BRACKET) return skipArray(depth + 1);
  if (c === OPEN_BRACE) return skipObject(depth + 1);
  return skipScalar() !== undefined;
}

function skipObject(depth: number): boolean {
  if (depth > MAX_DEPTH) return false;
  at++; // '{'
  spaces();
  if (src.charCodeAt(at) === CLOSE_BRACE) {
    at++;
    return true;
  }
  const keys: string[] = [];
  for (;;) {
    const key = readKey();
    // A wider object goes to the general path: the duplicate check here is quadratic.
    if (key === undefined || keys.length >= MAX_CHECKED_KEYS || keys.includes(key)) return false;
    keys.push(key);
    spaces();
    if (src.charCodeAt(at) !== COLON) return false;
    at++;
    spaces();
    if (!skipValue(depth)) return false;
    spaces();
    const c = src.charCodeAt(at++);
    if (c === CLOSE_BRACE) return true;
    if (c !== COMMA) return false;
    spaces();
  }
}

/** Steps over spaces between tokens where they are allowed (parsing; never in flattened lines). */
function spaces(): void {
  if (allowSpaces) while (src.charCodeAt(at) === SPACE) at++;
}
