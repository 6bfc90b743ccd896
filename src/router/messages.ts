/**
 * Every message the system itself writes into a chat, in English and Traditional Chinese (DESIGN §3.11).
 * Add a key to both languages; the type makes a missing translation a compile error.
 */
export type Language = "en" | "zh-TW";

type Params = Record<string, string | number>;
type Catalog = Record<MessageKey, (p: Params) => string>;

const en = {
  help: () =>
    [
      "I pass your messages to Claude Code. Commands:",
      "/status: what your agent is doing",
      "/new: start a fresh conversation (Claude forgets this chat's history)",
      "/cancel: stop the running task",
      "/approve [id] or /deny [id]: answer Claude's request to use a tool",
      "/help: this list",
    ].join("\n"),
  notEnabled: (p: Params) =>
    `CloudClaude is not enabled for you yet. Ask the operator to add ${p.id} to CLOUDCLAUDE_ADMINS.`,
  status: (p: Params) =>
    `Agent: ${p.agent} (${p.state}). Session: ${p.session}. Running: ${p.running}. Waiting for approval: ${p.approvals}.`,
  statusNoSession: () => "none yet",
  newSession: () =>
    "Started a fresh conversation. Claude no longer remembers the earlier messages of this chat.",
  cancelled: () => "Stopping the running task.",
  nothingToCancel: () => "Nothing is running.",
  permissionRequest: (p: Params) =>
    `Claude wants to use ${p.tool}: ${p.summary}\nReply /approve ${p.id} or /deny ${p.id} (denied automatically in ${p.duration}).`,
  permissionApproved: (p: Params) => `Approved by ${p.by}.`,
  permissionDenied: (p: Params) => `Denied by ${p.by}.`,
  permissionExpired: (p: Params) => `No answer within ${p.duration}, so ${p.tool} was denied.`,
  noPendingApproval: () => "There is no request waiting for approval here.",
  ambiguousApproval: (p: Params) => `Several requests are waiting; say which: ${p.ids}.`,
  turnFailed: (p: Params) => `Sorry, that did not work: ${p.error}`,
  turnTimedOut: (p: Params) =>
    `Claude worked on this for ${p.duration} without finishing, so I stopped it. Try a smaller step.`,
  emptyReply: () => "(Claude finished without writing a reply.)",
  interrupted: () => "Stopped.",
  unknownCommand: (p: Params) => `Unknown command /${p.command}. Send /help for the list.`,
  notMember: (p: Params) => `This chat is bound to the project ${p.project}, which you are not a member of.`,
} satisfies Record<string, (p: Params) => string>;

export type MessageKey = keyof typeof en;

const zhTW: Catalog = {
  help: () =>
    [
      "我會把你的訊息轉給 Claude Code。指令：",
      "/status：查看你的代理狀態",
      "/new：開始新的對話（Claude 會忘記這個聊天的先前內容）",
      "/cancel：停止正在執行的工作",
      "/approve [編號] 或 /deny [編號]：回覆 Claude 使用工具的請求",
      "/help：顯示此說明",
    ].join("\n"),
  notEnabled: (p) => `你尚未啟用 CloudClaude。請管理員將 ${p.id} 加入 CLOUDCLAUDE_ADMINS。`,
  status: (p) =>
    `代理：${p.agent}（${p.state}）。工作階段：${p.session}。執行中：${p.running}。等待核准：${p.approvals}。`,
  statusNoSession: () => "尚無",
  newSession: () => "已開始新的對話。Claude 不再記得這個聊天先前的訊息。",
  cancelled: () => "正在停止執行中的工作。",
  nothingToCancel: () => "目前沒有執行中的工作。",
  permissionRequest: (p) =>
    `Claude 想使用 ${p.tool}：${p.summary}\n請回覆 /approve ${p.id} 或 /deny ${p.id}（${p.duration}內未回覆將自動拒絕）。`,
  permissionApproved: (p) => `已由 ${p.by} 核准。`,
  permissionDenied: (p) => `已由 ${p.by} 拒絕。`,
  permissionExpired: (p) => `${p.duration}內沒有回覆，已拒絕使用 ${p.tool}。`,
  noPendingApproval: () => "這裡沒有等待核准的請求。",
  ambiguousApproval: (p) => `有多個請求在等待，請指定編號：${p.ids}。`,
  turnFailed: (p) => `抱歉，處理失敗：${p.error}`,
  turnTimedOut: (p) => `Claude 處理了${p.duration}仍未完成，已停止。請試著拆成較小的步驟。`,
  emptyReply: () => "（Claude 已完成，但沒有文字回覆。）",
  interrupted: () => "已停止。",
  unknownCommand: (p) => `未知的指令 /${p.command}。輸入 /help 查看指令列表。`,
  notMember: (p) => `這個聊天已綁定專案 ${p.project}，但你不是該專案的成員。`,
};

const CATALOGS: Record<Language, Catalog> = { en, "zh-TW": zhTW };

export function message(language: Language, key: MessageKey, params: Params = {}): string {
  return CATALOGS[language][key](params);
}

/** A duration for people: "45 s", "10 min", "2 h" / "45 秒", "10 分鐘", "2 小時". */
export function duration(language: Language, ms: number): string {
  const zh = language === "zh-TW";
  if (ms < 90_000) return zh ? ` ${Math.round(ms / 1000)} 秒` : `${Math.round(ms / 1000)} s`;
  if (ms < 90 * 60_000) return zh ? ` ${Math.round(ms / 60_000)} 分鐘` : `${Math.round(ms / 60_000)} min`;
  return zh ? ` ${Math.round(ms / 3_600_000)} 小時` : `${Math.round(ms / 3_600_000)} h`;
}

/** The language for a person: their platform's locale hint when it says Chinese or English, else the default. */
export function languageFor(locale: string | undefined, fallback: Language): Language {
  if (!locale) return fallback;
  const l = locale.toLowerCase();
  if (l.startsWith("zh")) return "zh-TW";
  if (l.startsWith("en")) return "en";
  return fallback;
}
