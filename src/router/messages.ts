/**
 * Every message the system itself writes into a chat, in English and Traditional Chinese (DESIGN §3.11).
 * Add a key to both languages; the type makes a missing translation a compile error.
 */
export type Language = "en" | "zh-TW";

import { buildEn, buildZhTW } from "./messages-build.ts";
import { projectsEn, projectsZhTW } from "./messages-projects.ts";

export type Params = Record<string, string | number>;
type Catalog = Record<MessageKey, (p: Params) => string>;

const en = {
  help: () =>
    [
      "I pass your messages to Claude Code. Commands:",
      "/status: what your agent is doing",
      "/new: start a fresh conversation (Claude forgets this chat's history)",
      "/cancel: stop the running task",
      "/approve [id] or /deny [id]: answer Claude's request to use a tool",
      "/verbose on|off: show the tools Claude uses, or only its answers",
      "/projects: your projects and their VMs; /projects new <name> [repo URL] [branch] creates one",
      "/build <project> [generic|node|python|go]: build its environment (the repo's Dockerfile by default)",
      "/bind <project>: this chat talks to the project's VM; /unbind undoes it",
      "/members <project> [add|remove <person>]: who may use a project",
      "/vm status|start|stop|restart|delete: the VM of this chat's project",
      "/connect: connect your own Claude credential (in a private chat)",
      "/link [code]: join your accounts on several chat apps; /unlink to undo",
      "/invite: an invite code for someone else; /join <code> to use one",
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
  waking: (p: Params) =>
    p.kind === "project" ? `Waking the VM of ${p.project}…` : "Starting your switchboard…",
  vmUnavailable: (p: Params) =>
    `The machine holding ${p.what} (${p.host}) is not answering. Your message is kept; I will try again shortly.`,
  noCapacity: () => "Every machine is full right now. Your message is kept; I will try again shortly.",
  attachmentTooLarge: (p: Params) =>
    `Sorry, ${p.name} is too large for me (${p.size}; the limit is ${p.limit} per file), so Claude did not get it.`,
  attachmentTooMany: (p: Params) =>
    `Sorry, ${p.name} did not fit: one message can bring Claude at most ${p.count} files and ${p.limit} in all.`,
  attachmentFailed: (p: Params) => `Sorry, I could not download ${p.name}, so Claude did not get it.`,
  asleepFor: (p: Params) => `asleep for ${p.duration} (${p.reason})`,
  sleepReason: (p: Params) =>
    p.reason === "idle"
      ? `went to sleep after ${p.duration} idle`
      : p.reason === "manual"
        ? "stopped by hand"
        : p.reason === "crashed"
          ? "stopped on its own"
          : String(p.reason),
  vmUsage: () =>
    "Use /vm status, /vm start, /vm stop, /vm restart or /vm delete in a chat bound to a project.",
  vmNotBound: () => "This chat is not bound to a project, so it has no VM. /projects lists yours.",
  vmStatus: (p: Params) =>
    `VM of ${p.project}: ${p.state}${p.detail ? `, ${p.detail}` : ""}. Host: ${p.host}.`,
  vmNotCreated: (p: Params) => `The VM of ${p.project} does not exist yet; the next message creates it.`,
  vmStarted: (p: Params) => `The VM of ${p.project} is running.`,
  vmStopped: (p: Params) => `The VM of ${p.project} is stopped. The next message starts it again.`,
  vmRestarted: (p: Params) => `The VM of ${p.project} was restarted.`,
  vmDeleteConfirm: (p: Params) =>
    `This deletes the VM of ${p.project} and its disk: the cloned repos and every conversation with it. To go ahead, send: /vm delete ${p.project}`,
  vmDeleted: (p: Params) =>
    `The VM of ${p.project} and its disk were deleted. The next message here creates a fresh one.`,
  vmOwnerOnly: (p: Params) => `Only the owner of ${p.project} can do that.`,
  vmNoSuchProject: (p: Params) => `You have no project named ${p.project}. /projects lists yours.`,
  vmFailed: (p: Params) => `That did not work: ${p.error}`,
  vmBusy: (p: Params) => `The VM of ${p.project} is working on a task. Wait for it, or /cancel it first.`,
  projectsList: (p: Params) => `Your projects:\n${p.list}`,
  projectsLine: (p: Params) =>
    `• ${p.project}${p.here ? " (this chat)" : ""}: ${p.state || "no VM yet"}${p.revision ? ` · ${p.revision}` : ""}`,
  projectsNone: () =>
    "You have no projects yet. Ask me to create one, or send /projects new <name> <repository URL>.",
  notAdmitted: (p: Params) =>
    p.mode === "invite"
      ? `CloudClaude is invite-only here. Ask someone who uses it for an invite code, then send /join <code>. (Your id: ${p.id})`
      : `CloudClaude is not open to you yet. Ask an admin for an invite code and send /join <code>, or to add ${p.id}.`,
  suspended: () =>
    "Your access to CloudClaude is suspended. Ask the operator if you think this is a mistake.",
  connectLink: (p: Params) =>
    `${p.lead ? `${p.lead} ` : ""}Connect your own Claude credential (an Anthropic API key, a \`claude setup-token\` token, or Bedrock/Vertex settings) on this page. The link works once, for 15 minutes:\n${p.url}\nNever paste a key into a chat.`,
  noCredentialYet: () => "You have no Claude credential connected yet.",
  connectInGroup: (p: Params) =>
    `${p.lead ? `${p.lead} ` : ""}Send /connect to me in a private chat to connect your Claude credential. Never paste a key into a group.`,
  credentialSaved: (p: Params) =>
    `Your ${p.kind} is saved, encrypted. Your agents use it from your next message.`,
  credentialReplaced: (p: Params) =>
    `Your ${p.kind} is saved, encrypted, and replaces your ${p.old}. Your agents use it from your next message.`,
  removed: (p: Params) =>
    `You were removed from this CloudClaude server. Ask its operator if you think this is a mistake. (Your id: ${p.id})`,
  linkJoined: (p: Params) =>
    `${p.id}${p.name} joined your account with your /link code: it now reaches your switchboard, projects and credential. If that was not you, send /unlink ${p.id} now.`,
  credentialRejected: (p: Params) =>
    `Claude refused your ${p.kind}: it is invalid, revoked or expired. Renew it (a new API key at console.anthropic.com, or run \`claude setup-token\` again for a subscription token), then send /connect in a private chat to replace it.`,
  secretPasted: (p: Params) =>
    `That message looks like it holds a secret key, so I did not pass it on. ${p.deleted === "yes" ? "I deleted it from this chat." : "Delete it from this chat now."} Anyone who saw it could use it: revoke it and make a new one. To connect a credential safely, send /connect in a private chat.`,
  linkCode: (p: Params) =>
    `To join another chat account to this one, send this from it within 10 minutes (it works once): /link ${p.code}\nWhoever has this code can join their account to yours: do not share it.`,
  linkInGroup: () => "Send /link to me in a private chat: the code must not be seen by anyone else.",
  linkDone: (p: Params) =>
    `Linked. This account now reaches the same switchboard, projects and credential as: ${p.list}.`,
  linkInvalid: () =>
    "That code is unknown, already used or expired. Send /link on your other account for a new one.",
  linkAlready: () => "This account is already linked to that one.",
  unlinkList: (p: Params) => `Your linked accounts: ${p.list}. To detach one, send /unlink <platform:id>.`,
  unlinkDone: (p: Params) => `${p.id} is detached. It starts afresh, with its own switchboard.`,
  unlinkNotYours: (p: Params) => `${p.id} is not one of your linked accounts.`,
  unlinkOnly: () => "This is your only account: there is nothing to unlink.",
  inviteCode: (p: Params) =>
    `Invite code, good once within 7 days: ${p.code}\nThe person you invite sends /join ${p.code} to me.`,
  inviteNotAllowed: () => "Only admins can invite people to this server.",
  joinDone: () =>
    "Welcome, you are in. Next, send /connect to me in a private chat to connect your Claude credential.",
  joinInvalid: () => "That invite code is unknown, already used or expired.",
  joinAlready: () => "You already have access.",
  // Delivery (issue 6): approval buttons, their answers, tool progress, /verbose.
  buttonAllowOnce: () => "Allow once",
  buttonAllowConversation: () => "Allow in this chat",
  buttonDeny: () => "Deny",
  approvalStale: () => "This request is no longer waiting for an answer.",
  approvalNotYours: () => "Only the person who asked Claude can answer this request.",
  approvalAlreadyAllowed: (p: Params) => `Already answered: approved by ${p.by}.`,
  approvalAlreadyDenied: (p: Params) => `Already answered: denied by ${p.by}.`,
  approvalAllowedToast: () => "Approved.",
  approvalDeniedToast: () => "Denied.",
  standingApproval: () => "this chat's standing approval",
  toolProgress: (p: Params) => `🔧 ${p.tool}: ${p.summary}`,
  verboseOn: () => "Verbose: I will also show each tool Claude uses. /verbose off to stop.",
  verboseOff: () => "Quiet: only Claude's answers from now on. /verbose on shows tool use too.",
  // Parts of the catalog kept in files of their own (same rule: every key in both languages).
  ...projectsEn,
  ...buildEn,
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
      "/verbose on|off：顯示 Claude 使用的工具，或只顯示回答",
      "/projects：你的專案及其 VM；/projects new <名稱> [儲存庫網址] [分支] 建立專案",
      "/build <專案> [generic|node|python|go]：建置專案環境（預設使用儲存庫的 Dockerfile）",
      "/bind <專案>：讓此聊天與專案的 VM 對話；/unbind 取消",
      "/members <專案> [add|remove <成員>]：誰可以使用專案",
      "/vm status|start|stop|restart|delete：此聊天所屬專案的 VM",
      "/connect：連接你自己的 Claude 憑證（請在私人聊天中使用）",
      "/link [代碼]：連結你在多個聊天軟體的帳號；/unlink 取消連結",
      "/invite：產生給他人的邀請碼；/join <代碼> 使用邀請碼",
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
  waking: (p) => (p.kind === "project" ? `正在喚醒 ${p.project} 的 VM…` : "正在啟動你的總機…"),
  vmUnavailable: (p) => `存放${p.what}的機器（${p.host}）沒有回應。你的訊息已保留，稍後會再試一次。`,
  noCapacity: () => "目前所有機器都已滿載。你的訊息已保留，稍後會再試一次。",
  attachmentTooLarge: (p) =>
    `抱歉，${p.name} 太大了（${p.size}；每個檔案上限為 ${p.limit}），Claude 沒有收到。`,
  attachmentTooMany: (p) =>
    `抱歉，${p.name} 沒有傳給 Claude：一則訊息最多 ${p.count} 個檔案、合計 ${p.limit}。`,
  attachmentFailed: (p) => `抱歉，我無法下載 ${p.name}，Claude 沒有收到。`,
  asleepFor: (p) => `已休眠 ${p.duration}（${p.reason}）`,
  sleepReason: (p) =>
    p.reason === "idle"
      ? `閒置${p.duration}後進入休眠`
      : p.reason === "manual"
        ? "已手動停止"
        : p.reason === "crashed"
          ? "意外停止"
          : String(p.reason),
  vmUsage: () => "請在已綁定專案的聊天中使用 /vm status、/vm start、/vm stop、/vm restart 或 /vm delete。",
  vmNotBound: () => "這個聊天沒有綁定專案，因此沒有 VM。輸入 /projects 查看你的專案。",
  vmStatus: (p) => `${p.project} 的 VM：${p.state}${p.detail ? `，${p.detail}` : ""}。主機：${p.host}。`,
  vmNotCreated: (p) => `${p.project} 的 VM 尚未建立；下一則訊息會建立它。`,
  vmStarted: (p) => `${p.project} 的 VM 正在執行。`,
  vmStopped: (p) => `${p.project} 的 VM 已停止。下一則訊息會再次啟動它。`,
  vmRestarted: (p) => `${p.project} 的 VM 已重新啟動。`,
  vmDeleteConfirm: (p) =>
    `這會刪除 ${p.project} 的 VM 及其磁碟：複製的程式庫以及與它的所有對話。確定要刪除請傳送：/vm delete ${p.project}`,
  vmDeleted: (p) => `${p.project} 的 VM 及其磁碟已刪除。下一則訊息會建立全新的 VM。`,
  vmOwnerOnly: (p) => `只有 ${p.project} 的擁有者可以這麼做。`,
  vmNoSuchProject: (p) => `你沒有名為 ${p.project} 的專案。輸入 /projects 查看你的專案。`,
  vmFailed: (p) => `操作失敗：${p.error}`,
  vmBusy: (p) => `${p.project} 的 VM 正在執行工作。請等它完成，或先用 /cancel 停止。`,
  projectsList: (p) => `你的專案：\n${p.list}`,
  projectsLine: (p) =>
    `• ${p.project}${p.here ? "（此聊天）" : ""}：${p.state || "尚未建立 VM"}${p.revision ? ` · ${p.revision}` : ""}`,
  projectsNone: () => "你還沒有任何專案。請我幫你建立，或傳送 /projects new <名稱> <儲存庫網址>。",
  notAdmitted: (p) =>
    p.mode === "invite"
      ? `此處的 CloudClaude 僅限受邀者使用。請向使用者索取邀請碼，然後傳送 /join <代碼>。（你的 ID：${p.id}）`
      : `你尚未獲准使用 CloudClaude。請向管理員索取邀請碼並傳送 /join <代碼>，或請管理員加入 ${p.id}。`,
  suspended: () => "你使用 CloudClaude 的權限已被暫停。若認為有誤，請聯絡管理員。",
  connectLink: (p) =>
    `${p.lead ? `${p.lead}` : ""}請在此頁面連接你自己的 Claude 憑證（Anthropic API 金鑰、\`claude setup-token\` 權杖，或 Bedrock/Vertex 設定）。此連結只能使用一次，15 分鐘內有效：\n${p.url}\n請勿在聊天中貼上金鑰。`,
  noCredentialYet: () => "你尚未連接 Claude 憑證。",
  connectInGroup: (p) =>
    `${p.lead ? `${p.lead}` : ""}請在私人聊天中傳送 /connect 給我以連接你的 Claude 憑證。請勿在群組中貼上金鑰。`,
  credentialSaved: (p) => `你的 ${p.kind} 已加密儲存。從下一則訊息起，你的代理會使用它。`,
  credentialReplaced: (p) =>
    `你的 ${p.kind} 已加密儲存，並取代了你原本的 ${p.old}。從下一則訊息起，你的代理會使用它。`,
  removed: (p) => `你已被移出此 CloudClaude 伺服器。若認為有誤，請聯絡管理員。（你的 ID：${p.id}）`,
  linkJoined: (p) =>
    `${p.id}${p.name} 已使用你的 /link 代碼加入你的帳號：它現在可使用你的總機、專案和憑證。若不是你本人，請立即傳送 /unlink ${p.id}。`,
  credentialRejected: (p) =>
    `Claude 拒絕了你的 ${p.kind}：它無效、已撤銷或已過期。請更新它（在 console.anthropic.com 建立新的 API 金鑰，或重新執行 \`claude setup-token\` 取得訂閱權杖），然後在私人聊天中傳送 /connect 來替換。`,
  secretPasted: (p) =>
    `這則訊息看起來含有秘密金鑰，所以我沒有轉交。${p.deleted === "yes" ? "我已從此聊天中刪除它。" : "請立即從此聊天中刪除它。"}看過它的人都能使用它：請撤銷並重新產生。若要安全地連接憑證，請在私人聊天中傳送 /connect。`,
  linkCode: (p) =>
    `若要將另一個聊天帳號連結到此帳號，請在 10 分鐘內從該帳號傳送（僅能使用一次）：/link ${p.code}\n持有此代碼的人都能將自己的帳號連結到你的帳號：請勿分享。`,
  linkInGroup: () => "請在私人聊天中傳送 /link 給我：代碼不能讓其他人看到。",
  linkDone: (p) => `已連結。此帳號現在與以下帳號共用同一個總機、專案和憑證：${p.list}。`,
  linkInvalid: () => "此代碼不存在、已使用或已過期。請在你的另一個帳號傳送 /link 取得新代碼。",
  linkAlready: () => "此帳號已與該帳號連結。",
  unlinkList: (p) => `你已連結的帳號：${p.list}。若要取消其中一個，請傳送 /unlink <平台:ID>。`,
  unlinkDone: (p) => `已取消連結 ${p.id}。它將重新開始，擁有自己的總機。`,
  unlinkNotYours: (p) => `${p.id} 不是你已連結的帳號。`,
  unlinkOnly: () => "這是你唯一的帳號：沒有可取消的連結。",
  inviteCode: (p) => `邀請碼，7 天內可使用一次：${p.code}\n受邀者請傳送 /join ${p.code} 給我。`,
  inviteNotAllowed: () => "只有管理員可以邀請他人使用此伺服器。",
  joinDone: () => "歡迎，你已獲准使用。下一步，請在私人聊天中傳送 /connect 給我以連接你的 Claude 憑證。",
  joinInvalid: () => "此邀請碼不存在、已使用或已過期。",
  joinAlready: () => "你已經擁有使用權限。",
  buttonAllowOnce: () => "允許一次",
  buttonAllowConversation: () => "在此聊天中一律允許",
  buttonDeny: () => "拒絕",
  approvalStale: () => "這個請求已不再等待回覆。",
  approvalNotYours: () => "只有向 Claude 提出要求的人可以回覆這個請求。",
  approvalAlreadyAllowed: (p) => `已經回覆過了：已由 ${p.by} 核准。`,
  approvalAlreadyDenied: (p) => `已經回覆過了：已由 ${p.by} 拒絕。`,
  approvalAllowedToast: () => "已核准。",
  approvalDeniedToast: () => "已拒絕。",
  standingApproval: () => "此聊天的常設核准",
  toolProgress: (p) => `🔧 ${p.tool}：${p.summary}`,
  verboseOn: () => "詳細模式：我也會顯示 Claude 使用的每個工具。輸入 /verbose off 關閉。",
  verboseOff: () => "安靜模式：從現在起只顯示 Claude 的回答。輸入 /verbose on 也顯示工具使用。",
  ...projectsZhTW,
  ...buildZhTW,
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
