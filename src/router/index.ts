export type { StreamSink } from "./context.ts";
export { Router, type RouterOptions } from "./router.ts";
export { TurnStore } from "./turn-store.ts";
