/**
 * Seeded fuzzing for the webhook and parser tests: a reproducible PRNG, odd values, structural mutations of
 * valid payloads, hostile bodies and random input. Everything is a function of the seed, so a failure can
 * be replayed. Free of test-runner imports, so that benchmarks and load generators can use it too.
 */

/** A source of numbers in [0, 1). */
export type Random = () => number;

/** mulberry32: small, fast and good enough to drive fuzzing reproducibly. */
export function seeded(seed: number): Random {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

export function pick<T>(items: readonly T[], random: Random): T {
  return items[Math.floor(random() * items.length)] as T;
}

/** A whole number in [0, n). */
export const below = (n: number, random: Random): number => Math.floor(random() * n);

// ---- Values

/** `{"a":{"a":…{}}}`, `depth` levels deep: past any parser's nesting limit for depths over 64. */
export function nestedObject(depth: number): unknown {
  let value: unknown = {};
  for (let i = 0; i < depth; i++) value = { a: value };
  return value;
}

/** `[[…]]` as text, `depth` levels deep: with 100 000 it overflows any recursive walker. */
export const nestedArrayText = (depth: number): string => `${"[".repeat(depth)}${"]".repeat(depth)}`;

/** A member that would pollute `Object.prototype` if a parser merged objects naively. */
export const PROTO_MEMBER = '"__proto__":{"polluted":true}';

/** Values that break assumptions: wrong types, empties, extremes, control characters, `__proto__`. */
export const ODD_VALUES: readonly unknown[] = [
  null,
  0,
  -1,
  1.5,
  1e308,
  2 ** 60,
  "",
  "x",
  "123",
  "99999999999999999999999",
  "x".repeat(300),
  "x".repeat(5000),
  "\u0000",
  true,
  [],
  {},
  [null],
  [[[]]],
  { id: "1", type: 1 },
  JSON.parse(`{${PROTO_MEMBER}}`),
];

/**
 * A random JSON value up to `maxDepth` deep: numbers from tiny to huge, strings, booleans, null, arrays,
 * and objects whose keys include `__proto__`, `constructor` and the field names platforms use.
 */
export function randomJson(random: Random, maxDepth = 4): unknown {
  const roll = random();
  if (maxDepth <= 0 || roll < 0.5) return randomScalar(random);
  if (roll < 0.7) return Array.from({ length: below(5, random) }, () => randomJson(random, maxDepth - 1));
  const object: Record<string, unknown> = {};
  for (let i = below(6, random); i > 0; i--) {
    const key = random() < 0.8 ? pick(KEYS, random) : randomText(random, 12);
    // defineProperty makes `__proto__` an own key, as JSON.parse would, instead of setting the prototype.
    Object.defineProperty(object, key, {
      value: randomJson(random, maxDepth - 1),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return object;
}

const KEYS = [
  "__proto__",
  "constructor",
  "prototype",
  "type",
  "id",
  "text",
  "events",
  "event",
  "message",
  "update_id",
  "destination",
  "team_id",
  "channel",
  "user",
  "token",
  "data",
  "payload",
];

function randomScalar(random: Random): unknown {
  switch (below(8, random)) {
    case 0:
      return below(2 ** 31, random) - 2 ** 30;
    case 1:
      return (random() - 0.5) * 10 ** below(309, random);
    case 2:
      return pick(ODD_VALUES, random);
    case 3:
      return random() < 0.5;
    case 4:
      return null;
    default:
      return randomText(random, 40);
  }
}

/** Up to `maxLength` random UTF-16 units below U+0250 (ASCII, controls, Latin, some combining marks). */
export function randomText(random: Random, maxLength = 200): string {
  const length = below(maxLength, random);
  let text = "";
  for (let i = 0; i < length; i++) text += String.fromCharCode(below(0x250, random));
  return text;
}

/** Up to `maxLength` random bytes. */
export function randomBytes(random: Random, maxLength = 200): Uint8Array {
  return Uint8Array.from({ length: below(maxLength, random) }, () => below(256, random));
}

/** Byte sequences that are not UTF-8: a strict decoder must refuse them. */
export const INVALID_UTF8: readonly (readonly number[])[] = [
  [0xff, 0xfe, 0x00, 0x7b],
  [0xc3, 0x28, 0x7b, 0x7d],
  [0x7b, 0x22, 0xed, 0xa0, 0x80, 0x22, 0x7d],
  [0x7b, 0x22, 0x61, 0x22, 0x3a, 0xe2, 0x82],
];

// ---- Mutations

/**
 * A deep copy of `value` with one to three fields, at random depths, deleted or replaced: by one of
 * `ODD_VALUES` and `extraOdd` (platform-shaped values that get further), and one time in ten by 80 levels of
 * nesting.
 */
export function mutate(value: unknown, random: Random, extraOdd: readonly unknown[] = []): unknown {
  const odd = [...ODD_VALUES, ...extraOdd];
  const copy: unknown = JSON.parse(JSON.stringify(value) ?? "null");
  for (let times = 1 + below(3, random); times > 0; times--) {
    let node = copy;
    while (typeof node === "object" && node !== null) {
      const container = node as Record<string, unknown>;
      const keys = Object.keys(container);
      if (keys.length === 0) break;
      const key = pick(keys, random);
      const child = container[key];
      if (typeof child === "object" && child !== null && random() < 0.7) {
        node = child;
        continue;
      }
      if (random() < 0.3) delete container[key];
      // A fresh copy: a later mutation may descend into the value, which must not change ODD_VALUES.
      else container[key] = random() < 0.1 ? nestedObject(80) : JSON.parse(JSON.stringify(pick(odd, random)));
      break;
    }
  }
  return copy;
}

/** Form fields with one deleted or replaced by an empty, DM-shaped, badly escaped, NUL or huge value. */
export function mutateFields(fields: Record<string, string>, random: Random): Record<string, string> {
  const copy = { ...fields };
  const keys = Object.keys(copy);
  if (keys.length === 0) return copy;
  const key = pick(keys, random);
  if (random() < 0.5) delete copy[key];
  else copy[key] = pick(["", "D1", "%zz", "\u0000", "x".repeat(3000)], random);
  return copy;
}

/** `text` cut short, with one UTF-16 unit replaced by a random one, or with a stretch repeated. */
export function garble(text: string, random: Random): string {
  const at = below(text.length, random);
  switch (below(3, random)) {
    case 0:
      return text.slice(0, at);
    case 1:
      return text.slice(0, at) + String.fromCharCode(below(0xffff, random)) + text.slice(at + 1);
    default:
      return text.slice(0, at) + text.slice(at, at + 40).repeat(3) + text.slice(at);
  }
}

/** Like `garble`, with printable ASCII only (a `Headers` value cannot hold more). */
export function garbleHeader(text: string, random: Random): string {
  const at = below(text.length + 1, random);
  const char = String.fromCharCode(0x21 + below(94, random));
  return random() < 0.3 ? text.slice(0, at) : text.slice(0, at) + char + text.slice(at + 1);
}

/** One time in four, three random bytes of `bytes` overwritten (in place); returns `bytes`. */
export function damageBytes(bytes: Uint8Array, random: Random): Uint8Array {
  if (random() < 0.25) {
    for (let i = 0; i < 3; i++) bytes[below(bytes.length, random)] = below(256, random);
  }
  return bytes;
}

// ---- Bodies

/**
 * Hostile bodies around a valid JSON body: bare and empty values, a huge number, nesting past any stack,
 * `__proto__` and `constructor` keys injected into the first objects, deep nesting inside the payload,
 * numbers out of range, and the body truncated.
 */
export function hostileBodies(valid: string): string[] {
  const objects = [...valid.matchAll(/\{"/g)].map((match) => match.index);
  const inject = (at: number, member: string) => `${valid.slice(0, at + 1)}${member},${valid.slice(at + 1)}`;
  return [
    "",
    "null",
    "[]",
    "{}",
    '"string"',
    "12",
    "1e999",
    nestedArrayText(100_000),
    `${'{"a":'.repeat(10_000)}1${"}".repeat(10_000)}`,
    ...objects.slice(0, 4).map((at) => inject(at, PROTO_MEMBER)),
    ...objects.slice(0, 2).map((at) => inject(at, '"constructor":{"prototype":{"polluted":true}}')),
    ...objects.slice(1, 3).map((at) => inject(at, `"extra":${nestedArrayText(5_000)}`)),
    valid.replace(/:(-?\d+)([,}\]])/, ":1e999$2"),
    valid.replace(/:(-?\d+)([,}\]])/, ":123456789012345678901234567890$2"),
    valid.slice(0, Math.floor(valid.length / 2)),
  ];
}

/**
 * Bodies for a webhook robustness test, reproducible from `seed`: `hostileBodies` around one valid payload,
 * invalid UTF-8, then `count` valid payloads (from `valid`) each mutated by `mutate` and, one time in four,
 * with three bytes damaged. Sign them as raw bytes.
 */
export function fuzzBodies(
  count: number,
  seed: number,
  valid: (random: Random) => unknown,
  extraOdd: readonly unknown[] = [],
): Uint8Array[] {
  const random = seeded(seed);
  const encode = (text: string) => new TextEncoder().encode(text);
  const hostile = hostileBodies(JSON.stringify(valid(random))).map(encode);
  const mutated = Array.from({ length: count }, () =>
    damageBytes(encode(JSON.stringify(mutate(valid(random), random, extraOdd))), random),
  );
  return [...hostile, ...INVALID_UTF8.map((bytes) => Uint8Array.from(bytes)), ...mutated];
}

/**
 * `count` request bodies for a route-level fuzz test, reproducible from `seed`. First the hostile bodies
 * around the first valid body and the valid bodies themselves; then, at random: valid bodies unchanged,
 * structurally mutated (JSON, form fields, or the JSON inside a form field; odd types, deletions, deep
 * nesting, `__proto__`), garbled as text, random JSON, random bytes as a latin1 string (each char one byte,
 * send with `Buffer.from(body, "latin1")` to get the bytes back) or decoded as UTF-8 with replacement
 * characters, and random text.
 */
export function mutatedBodies(validBodies: readonly string[], count: number, seed: number): string[] {
  const random = seeded(seed);
  const valid = validBodies.length > 0 ? validBodies : ["{}"];
  const fixed = [...hostileBodies(valid[0] ?? "{}"), ...valid];
  const bodies = fixed.slice(0, count);
  const hostile = new Map<string, string[]>();
  const hostileFor = (body: string) =>
    hostile.get(body) ?? hostile.set(body, hostileBodies(body)).get(body) ?? [];
  while (bodies.length < count) bodies.push(randomBody(valid, random, hostileFor));
  return bodies;
}

function randomBody(valid: readonly string[], random: Random, hostile: (body: string) => string[]): string {
  const roll = random();
  const body = pick(valid, random);
  if (roll < 0.1) return body;
  if (roll < 0.5) return mutateBody(body, random);
  if (roll < 0.65) return garble(body, random);
  if (roll < 0.75) return JSON.stringify(randomJson(random)) ?? "null";
  if (roll < 0.85) return String.fromCharCode(...randomBytes(random));
  if (roll < 0.9) return new TextDecoder().decode(randomBytes(random));
  if (roll < 0.95) return randomText(random);
  return pick(hostile(body), random);
}

/** A structural mutation of a JSON body, or of a form body's fields (or of the JSON one of them holds). */
function mutateBody(body: string, random: Random): string {
  const json = tryJson(body);
  if (json.ok) return JSON.stringify(mutate(json.value, random)) ?? "null";
  const fields = Object.fromEntries(new URLSearchParams(body));
  const inner = Object.entries(fields).find(([, value]) => tryJson(value).ok && /^\s*[[{]/.test(value));
  if (inner !== undefined && random() < 0.7) {
    const [name, value] = inner;
    fields[name] = JSON.stringify(mutate(JSON.parse(value), random)) ?? "null";
    return new URLSearchParams(fields).toString();
  }
  return new URLSearchParams(mutateFields(fields, random)).toString();
}

function tryJson(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}
