import type { Inbox } from "../inbox/index.ts";

/** The same inbox, calling `onEnqueued` after every successful enqueue (to wake the router). */
export function notifyOnEnqueue(inbox: Inbox, onEnqueued: () => void): Inbox {
  return new Proxy(inbox, {
    get(target, property) {
      if (property === "enqueue") {
        return async (...args: Parameters<Inbox["enqueue"]>) => {
          const outcomes = await target.enqueue(...args);
          onEnqueued();
          return outcomes;
        };
      }
      const value: unknown = Reflect.get(target, property, target);
      // Methods keep the real inbox as `this` (its private fields live there).
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}
