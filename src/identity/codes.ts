import { randomBytes, randomInt } from "node:crypto";

/** Letters and digits people cannot confuse (no 0/O, 1/I/L, 2/Z, 5/S, 8/B). */
const ALPHABET = "ACDEFGHJKMNPQRTUVWXY34679";

/** Codes people type on another platform (/link, /join): short, grouped, case-insensitive. */
export function humanCode(length: number): string {
  let out = "";
  for (let i = 0; i < length; i++) out += ALPHABET[randomInt(ALPHABET.length)];
  return out.replace(/(.{4})(?=.)/g, "$1-");
}

/** The canonical form of a typed code: upper case, separators and spaces dropped. */
export function normalizeCode(typed: string): string {
  return typed.toUpperCase().replace(/[^A-Z0-9]/g, "");
}

/** The id in a /connect link: 256 random bits, URL-safe. */
export function connectId(): string {
  return randomBytes(32).toString("base64url");
}

export const CONNECT_ID = /^[A-Za-z0-9_-]{43}$/;

export const LINK_TTL_MS = 10 * 60_000;
export const INVITE_TTL_MS = 7 * 24 * 3_600_000;
export const CONNECT_TTL_MS = 15 * 60_000;
