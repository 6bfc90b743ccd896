// The helpers every platform module shares (payload.ts).
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { nestedObject } from "../../../test/support/fuzz.ts";
import {
  attachment,
  attachmentKind,
  commandName,
  decodeJson,
  guardedParse,
  MalformedPayload,
  must,
  removeRanges,
  stripBotMentions,
  timestampProblem,
  webhookPlatform,
} from "./payload.ts";

describe("guardedParse", () => {
  it("reports malformed payloads, payloads nested past 64 levels and bugs, and never throws", () => {
    const none = () => [];
    expect(guardedParse({}, none)).toEqual({ ok: true, events: [] });
    // nestedObject(n) is n + 1 objects deep.
    expect(guardedParse(nestedObject(63), none)).toEqual({ ok: true, events: [] });
    expect(guardedParse(nestedObject(64), none)).toEqual({ ok: false, reason: "payload nested too deeply" });
    const malformed = () => {
      must(z.object({ id: z.string() }), { id: 1 }, "thing");
      return [];
    };
    expect(guardedParse({}, malformed)).toEqual({
      ok: false,
      reason: "invalid thing at id: Invalid input: expected string, received number",
    });
    const bug = () => {
      throw new TypeError("oops");
    };
    expect(guardedParse({}, bug)).toEqual({ ok: false, reason: "unprocessable payload" });
  });
});

describe("webhook plumbing", () => {
  it("refuses with 400 instead of rejecting when a handler throws", async () => {
    const platform = webhookPlatform("line", () => {
      throw new Error("bug");
    });
    const request = { headers: new Headers(), body: new Uint8Array(), receivedAt: 0 };
    await expect(platform.handle(request)).resolves.toEqual({
      kind: "rejected",
      status: 400,
      reason: "unprocessable payload",
    });
  });

  it("checks a timestamp's form and window on both sides", () => {
    const now = 1_750_000_000_000;
    expect(timestampProblem("X-T", "1750000000", now, 300_000)).toBeUndefined();
    expect(timestampProblem("X-T", "1749999700", now, 300_000)).toBeUndefined();
    expect(timestampProblem("X-T", "1749999699", now, 300_000)).toBe("stale X-T");
    expect(timestampProblem("X-T", "1750000301", now, 300_000)).toBe("stale X-T");
    for (const bad of ["", "1.5", "-1", "1e9", "9".repeat(13)]) {
      expect(timestampProblem("X-T", bad, now, 300_000)).toBe("malformed X-T");
    }
  });

  it("decodes strict UTF-8 JSON only", () => {
    const bytes = (...b: number[]) => Uint8Array.from(b);
    expect(decodeJson(new TextEncoder().encode('{"a":"é"}'))).toEqual({ ok: true, value: { a: "é" } });
    expect(decodeJson(bytes(0x7b, 0x7d, 0xff))).toEqual({ ok: false, reason: "body is not UTF-8 JSON" });
    expect(decodeJson(bytes())).toMatchObject({ ok: false });
  });
});

describe("content helpers", () => {
  it("names commands bare and in lower case", () => {
    expect(commandName("/claude")).toBe("claude");
    expect(commandName("/Claude")).toBe("claude");
    expect(commandName("claude")).toBe("claude");
    expect(() => commandName("/")).toThrow(MalformedPayload);
  });

  it("removes UTF-16 ranges, skipping invalid and overlapping ones, without leaving double spaces", () => {
    expect(removeRanges("😄 @Claude fix it", [[3, 10]])).toBe("😄 fix it");
    expect(
      removeRanges("@a @b go", [
        [0, 2],
        [3, 5],
      ]),
    ).toBe("go");
    expect(
      removeRanges("hi", [
        [1, 50],
        [-1, 1],
        [1, 1],
      ]),
    ).toBe("hi");
    expect(
      removeRanges("abcdef", [
        [1, 4],
        [2, 5],
      ]),
    ).toBe("abf");
  });

  it("strips only the bot's mentions", () => {
    const mention = /<@(\w+)>[ \t]*/g;
    expect(stripBotMentions("<@BOT> hi <@U1>", mention, (id) => id === "BOT")).toEqual({
      text: "hi <@U1>",
      found: true,
    });
    expect(stripBotMentions(" <@U1> ", mention, () => false)).toEqual({ text: "<@U1>", found: false });
  });

  it("maps MIME types to attachment kinds and leaves out missing details", () => {
    expect(["image/png", "VIDEO/mp4", "audio/ogg", "text/plain", undefined].map(attachmentKind)).toEqual([
      "image",
      "video",
      "audio",
      "file",
      "other",
    ]);
    expect(attachment("file", "r", { name: null, mimeType: undefined, sizeBytes: 0 })).toEqual({
      kind: "file",
      ref: "r",
      sizeBytes: 0,
    });
  });
});
