import type { Params } from "./messages.ts";

/** The projects part of the message catalog (see messages.ts): English, and Traditional Chinese below. */
export const projectsEn = {
  projectsPlaceholder: () => "",
} satisfies Record<string, (p: Params) => string>;

export const projectsZhTW: Record<keyof typeof projectsEn, (p: Params) => string> = {
  projectsPlaceholder: () => "",
};
