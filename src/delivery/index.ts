export { defaultDeliveryBackoff, OutboxDispatcher, type OutboxDispatcherOptions } from "./dispatcher.ts";
export { DeliveryError, type FailureKind } from "./errors.ts";
export { DEFAULT_GOVERNOR_SETTINGS, type GovernorSettings, type Pace, RateGovernor } from "./governor.ts";
export { createOutbox, KyselyOutbox, type OutboxOptions } from "./outbox.ts";
export * from "./port.ts";
export * from "./senders/index.ts";
export {
  LiveReplies,
  type LiveRepliesOptions,
  type TurnStreamSink,
  type TurnTarget,
} from "./streaming/live-replies.ts";
export {
  WebchatHub,
  type WebchatHubOptions,
  type WebchatListener,
  type WebchatMessage,
} from "./webchat-hub.ts";
