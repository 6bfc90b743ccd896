import { defineConfig } from "vitest/config";

/**
 * Two projects:
 * - fast: unit tests and SQLite; no outside service. `npm run check` runs these.
 * - integration (`*.int.test.ts`): need real services (PostgreSQL, later Docker, Chromium) or spawn
 *   processes. A missing service fails the test; nothing is skipped.
 */
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "fast",
          include: ["src/**/*.test.ts", "test/**/*.test.ts"],
          exclude: ["**/*.int.test.ts", "**/node_modules/**"],
        },
      },
      {
        test: {
          name: "integration",
          include: ["src/**/*.int.test.ts", "test/**/*.int.test.ts"],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
