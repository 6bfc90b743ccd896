import { engineMessages, LogTail } from "../vm/images/engine.ts";
import type { BuildStep } from "./port.ts";

export { LogTail };

export interface StreamResult {
  /** The built image's id (`aux.ID` of the classic builder), when it finished. */
  readonly imageId: string | undefined;
  /** The engine's error message, when it reported one. */
  readonly error: string | undefined;
  /** The last step the engine started. */
  readonly lastStep: BuildStep | undefined;
  /** How many steps the Dockerfile had (from "Step i/n"). */
  readonly steps: number;
}

/**
 * Reads the JSON lines of the engine's /build answer. "Step 3/5 : RUN npm ci" becomes a `BuildStep`
 * numbered `offset + 3` of `total(5)`, so the project's Dockerfile and our layer count as one build.
 */
export async function readBuildStream(
  stream: AsyncIterable<string | Buffer>,
  tail: LogTail,
  numbering: { phase: BuildStep["phase"]; offset: number; total: (steps: number) => number },
  onStep: (step: BuildStep) => void,
): Promise<StreamResult> {
  let imageId: string | undefined;
  let error: string | undefined;
  let lastStep: BuildStep | undefined;
  let steps = 0;
  for await (const message of engineMessages(stream)) {
    if (typeof message === "string") {
      tail.push(message);
      continue;
    }
    if (message.error) {
      error = message.errorDetail?.message ?? message.error;
      tail.push(error);
    }
    if (message.status) tail.push(message.status);
    if (message.aux?.ID) imageId = message.aux.ID;
    if (!message.stream) continue;
    tail.push(message.stream);
    const found = /^Step (\d+)\/(\d+) : (.*)$/m.exec(message.stream);
    if (!found) continue;
    steps = Number(found[2]);
    const index = numbering.offset + Number(found[1]);
    const total = numbering.total(steps);
    const raw = (found[3] as string).trim();
    const instruction = raw.length > 100 ? `${raw.slice(0, 99)}…` : raw;
    lastStep = {
      index,
      total,
      instruction,
      phase: numbering.phase,
      text: `step ${index}/${total}: ${instruction}`,
    };
    onStep(lastStep);
  }
  return { imageId, error, lastStep, steps };
}

/** A counting semaphore: at most `limit` bodies run at once, the rest wait in order. */
export class Limiter {
  #running = 0;
  readonly #waiting: (() => void)[] = [];
  readonly limit: number;
  constructor(limit: number) {
    this.limit = limit;
    if (!(limit >= 1)) throw new Error(`the build concurrency must be at least 1, not ${limit}`);
  }
  async run<T>(body: () => Promise<T>): Promise<T> {
    if (this.#running >= this.limit) await new Promise<void>((resolve) => this.#waiting.push(resolve));
    else this.#running++;
    try {
      return await body();
    } finally {
      const next = this.#waiting.shift();
      if (next) next();
      else this.#running--;
    }
  }
}
