import { randomBytes } from "node:crypto";
import { chmod, mkdtemp, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { SecretBox, sealedKeyId } from "./envelope.ts";
import {
  KeyFile,
  keyIdOf,
  keysFromEnvironment,
  LocalKeyProvider,
  loadKeyProvider,
  MissingKeyFileError,
} from "./keys.ts";
import { UnknownKeyError } from "./port.ts";
import { looksLikeSecret, SecretRedactor } from "./redact.ts";

const place = { table: "credentials", column: "value", row: "user-a/claude" };
const ring = (...keys: Buffer[]) => new LocalKeyProvider(keys.map((key) => ({ id: keyIdOf(key), key })));

describe("SecretBox (envelope encryption)", () => {
  const k1 = randomBytes(32);
  const k2 = randomBytes(32);

  it("seals to text that holds no trace of the value, and opens it again", async () => {
    const box = new SecretBox(ring(k1));
    const sealed = await box.seal("sk-ant-api03-secret-value", place);
    expect(sealed).toMatch(/^ccs1\.k[0-9a-f]{12}\./);
    expect(sealed).not.toContain("secret-value");
    expect(await box.open(sealed, place)).toBe("sk-ant-api03-secret-value");
    // A fresh data key and iv every time.
    expect(await box.seal("sk-ant-api03-secret-value", place)).not.toBe(sealed);
  });

  it("refuses a value moved to another row or column, or tampered with", async () => {
    const box = new SecretBox(ring(k1));
    const sealed = await box.seal("token", place);
    await expect(box.open(sealed, { ...place, row: "user-b/claude" })).rejects.toThrow();
    await expect(box.open(sealed, { ...place, column: "other" })).rejects.toThrow();
    const parts = sealed.split(".");
    const body = Buffer.from(parts[4] ?? "", "base64url");
    body[0] = (body[0] ?? 0) ^ 1;
    parts[4] = body.toString("base64url");
    await expect(box.open(parts.join("."), place)).rejects.toThrow(/does not open/);
    await expect(box.open("plain text", place)).rejects.toThrow(/not a sealed value/);
  });

  it("cannot open without the master key, and says which key is missing", async () => {
    const sealed = await new SecretBox(ring(k1)).seal("token", place);
    const other = new SecretBox(ring(k2));
    await expect(other.open(sealed, place)).rejects.toBeInstanceOf(UnknownKeyError);
  });

  it("rotation re-wraps the data key under the new master key; the old key is then unnecessary", async () => {
    const sealed = await new SecretBox(ring(k1)).seal("token", place);
    const both = new SecretBox(ring(k2, k1));
    const rewrapped = await both.rewrap(sealed, place);
    expect(sealedKeyId(rewrapped)).toBe(keyIdOf(k2));
    expect(await new SecretBox(ring(k2)).open(rewrapped, place)).toBe("token");
    expect(await both.rewrap(rewrapped, place)).toBe(rewrapped);
  });
});

describe("master keys", () => {
  it("parses CLOUDCLAUDE_MASTER_KEY in base64 or hex, first current, and refuses anything else", () => {
    const a = randomBytes(32);
    const b = randomBytes(32);
    const keys = keysFromEnvironment(`${a.toString("base64")}, ${b.toString("hex")}`);
    expect(keys.map((k) => k.id)).toEqual([keyIdOf(a), keyIdOf(b)]);
    expect(() => keysFromEnvironment("too-short")).toThrow(/32 random bytes/);
    expect(() => keysFromEnvironment(randomBytes(16).toString("base64"))).toThrow(/32 random bytes/);
  });

  it("creates the key file on first start with mode 0600, reuses it, and refuses one others can read", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "cc-keys-"));
    const file = path.join(dir, "keys", "master-key.json");
    // Only `serve` creates the file: every other command finds none and says so.
    expect(() => loadKeyProvider({ environmentKeys: undefined, keyFile: file })).toThrow(MissingKeyFileError);
    expect(await readdir(dir)).toEqual([]);
    const first = loadKeyProvider({ environmentKeys: undefined, keyFile: file }, { create: true });
    expect(first.created).toBe(true);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await stat(path.dirname(file))).mode & 0o777).toBe(0o700);
    const again = loadKeyProvider({ environmentKeys: undefined, keyFile: file }, { create: true });
    expect(again.created).toBe(false);
    expect(loadKeyProvider({ environmentKeys: undefined, keyFile: file }).provider.currentId).toBe(
      first.provider.currentId,
    );
    expect(again.provider.currentId).toBe(first.provider.currentId);
    await chmod(file, 0o644);
    expect(() => new KeyFile(file).read()).toThrow(/readable by others.*chmod 600/);
    await chmod(file, 0o600);
    // The environment wins over the file.
    const env = randomBytes(32);
    const fromEnv = loadKeyProvider({ environmentKeys: env.toString("base64"), keyFile: file });
    expect(fromEnv).toMatchObject({ origin: "environment" });
    expect(fromEnv.provider.currentId).toBe(keyIdOf(env));
  });

  it("adds a key in front and retires the old ones, never all of them", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "cc-keys-"));
    const file = new KeyFile(path.join(dir, "k.json"));
    const [old] = file.loadOrCreate().keys;
    const fresh = file.addKey();
    expect(file.read().map((k) => k.id)).toEqual([fresh.id, old?.id]);
    file.retire([fresh.id]);
    expect(file.read().map((k) => k.id)).toEqual([fresh.id]);
    expect(() => file.retire(["nope"])).toThrow(/every key/);
    expect(await readFile(file.path, "utf8")).toContain(fresh.id);
    // Replaced through a temporary file with a random name (never `<pid>.tmp`: pid 1 in every container),
    // which does not stay behind.
    expect(await readdir(dir)).toEqual(["k.json"]);
    expect((await stat(file.path)).mode & 0o777).toBe(0o600);
  });

  it("a leftover temporary file of a crashed rotation does not block the next one", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "cc-keys-"));
    const file = new KeyFile(path.join(dir, "k.json"));
    file.loadOrCreate();
    // What the old code left after a crash, and would then trip over (open "wx" on the same name).
    await writeFile(`${file.path}.${process.pid}.tmp`, "{}", { mode: 0o600 });
    const fresh = file.addKey();
    expect(file.read()[0]?.id).toBe(fresh.id);
  });
});

describe("redaction", () => {
  it("replaces known values (also JSON-escaped) and credential shapes, leaves ordinary text alone", () => {
    const r = new SecretRedactor();
    r.add('pa$$"word-1234');
    r.add("short");
    const line = JSON.stringify({ msg: 'uses pa$$"word-1234 and ghp_abcdefghijklmnopqrstuvwxyz0123456789' });
    const out = r.redact(line);
    expect(out).not.toContain("word-1234");
    expect(out).not.toContain("ghp_abc");
    expect(r.redact("a short note")).toBe("a short note");
    expect(looksLikeSecret("my key: sk-ant-oat01-abcdefghijklmnopqrstuvwxyz")).toBe(true);
    expect(looksLikeSecret("AKIAABCDEFGHIJKLMNOP is my id")).toBe(true);
    expect(looksLikeSecret("how do I use sk-ant keys?")).toBe(false);
  });
});
