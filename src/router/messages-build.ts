import type { Params } from "./messages.ts";

/** The build part of the message catalog (see messages.ts): English, and Traditional Chinese below. */
export const buildEn = {
  buildPlaceholder: () => "",
} satisfies Record<string, (p: Params) => string>;

export const buildZhTW: Record<keyof typeof buildEn, (p: Params) => string> = {
  buildPlaceholder: () => "",
};
