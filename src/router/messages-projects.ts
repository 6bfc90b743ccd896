import type { Params } from "./messages.ts";

/**
 * The projects part of the message catalog (see messages.ts): creating projects, binding chats, members.
 * English first, Traditional Chinese below; the type makes a missing translation a compile error.
 */
export const projectsEn = {
  projectBadName: (p: Params) =>
    `"${p.name}" cannot be a project name: use lower-case letters, digits and -, at most 40, starting with a letter or digit.`,
  projectBadBranch: (p: Params) => `"${p.branch}" is not a branch name.`,
  projectBadRepo: (p: Params) =>
    `"${p.repo}" is not a repository URL I can clone: give https://host/owner/repo.git (no user name or password in it; store a GitHub token with /connect for private repositories).`,
  projectNameTaken: (p: Params) => `A project named ${p.name} exists already. Pick another name.`,
  projectCreated: (p: Params) =>
    `Created the project ${p.project}${p.repo ? ` (${p.repo})` : ""}. Next: /build ${p.project} builds its environment.`,
  projectsUsage: () =>
    "Use /projects to list yours, /projects new <name> [repo URL] [branch] to create one, /projects delete <name> to delete one.",
  projectDeleteConfirm: (p: Params) =>
    `Deleting ${p.project} removes its VM, its disk (with any uncommitted work) and its bindings. To confirm, send /projects delete ${p.project}.`,
  projectDeleted: (p: Params) =>
    `Deleted the project ${p.project}${Number(p.unbound) > 0 ? `; ${p.unbound} bound chat(s) were told and go back to the switchboards` : ""}.`,
  projectDeleteBuilding: (p: Params) =>
    `${p.project} is being built right now${p.step ? ` (${p.step})` : ""}. Delete it once the build is done: I will post here when it is.`,
  projectDeletedHere: (p: Params) =>
    `The project ${p.project} was deleted by its owner. This chat is no longer bound to it: messages here go to each person's switchboard again.`,
  buildsUnavailable: () =>
    "Environments cannot be built on this server: it runs agents as local processes (CLOUDCLAUDE_RUNTIME=process). Ask the operator to use the Docker runtime.",
  buildNeedsRepo: (p: Params) =>
    `${p.project} has no repository, so there is no Dockerfile to build from. Build it from a template (/build ${p.project} node) or give a Dockerfile.`,
  buildUsage: () =>
    "Use /build <project> [generic|node|python|go]: without a template, the repository's Dockerfile.",
  buildAlreadyRunning: (p: Params) =>
    `The environment of ${p.project} is being built already${p.step ? ` (${p.step})` : ""}. I will post here when it is done.`,
  environmentNotBuilt: (p: Params) =>
    `${p.project} has no environment yet, so its VM would start without the repository. Build it first: /build ${p.project} (or ask your switchboard in a private chat), then write here again.`,
  environmentBuilding: (p: Params) =>
    `The environment of ${p.project} is still being built${p.step ? ` (${p.step})` : ""}. Its VM starts once the build is ready: write here again then.`,
  bindUsage: () =>
    "Use /bind <project> in the chat that should talk to the project's VM. /projects lists yours.",
  bindUnknownChat: (p: Params) => `I do not know the chat ${p.chat} yet: someone must write there first.`,
  bindAlready: (p: Params) => `This chat is bound to ${p.project} already.`,
  bindTakenByOther: (p: Params) =>
    `This chat is bound to the project ${p.project}, which you are not a member of, so you cannot move it.`,
  boundHere: (p: Params) =>
    `${p.by} bound this chat to the project ${p.project}. Messages here now go to Claude Code on its VM; /unbind undoes it.`,
  boundMoved: (p: Params) =>
    `${p.by} moved this chat from ${p.previous} to the project ${p.project}. Messages here now go to Claude Code on its VM.`,
  unboundHere: (p: Params) =>
    `${p.by} unbound this chat from ${p.project}. Messages here go to each person's switchboard again.`,
  unbindNotBound: () => "This chat is not bound to a project.",
  chatUnknown: (p: Params) =>
    `I know no chat called "${p.chat}" that you are in. Write something there first (mention me), then try again.`,
  chatAmbiguous: (p: Params) => `Several of your chats are called "${p.chat}"; name it by its key instead.`,
  personUnknown: (p: Params) =>
    `I do not know "${p.person}". Give their chat identity (e.g. telegram:12345), or the name of someone who has written in one of your chats.`,
  personAmbiguous: (p: Params) =>
    `Several people are called "${p.person}"; give their chat identity instead.`,
  membersUsage: () =>
    "Use /members <project>, /members <project> add <person> or /members <project> remove <person>.",
  membersList: (p: Params) => `${p.project}: owner ${p.owner}; members: ${p.members || "none"}.`,
  memberAdded: (p: Params) =>
    `${p.person} is now a member of ${p.project}: they can talk to its VM in bound chats and approve its tools.`,
  memberRemoved: (p: Params) => `${p.person} is no longer a member of ${p.project}.`,
  memberIsOwner: (p: Params) => `That is the owner of ${p.project}.`,
  memberNotFound: (p: Params) => `${p.person} is not a member of ${p.project}.`,
} satisfies Record<string, (p: Params) => string>;

export const projectsZhTW: Record<keyof typeof projectsEn, (p: Params) => string> = {
  projectBadName: (p) =>
    `「${p.name}」不能作為專案名稱：請使用小寫字母、數字和 -，最多 40 個字元，並以字母或數字開頭。`,
  projectBadBranch: (p) => `「${p.branch}」不是有效的分支名稱。`,
  projectBadRepo: (p) =>
    `「${p.repo}」不是我能 clone 的儲存庫網址：請提供 https://host/owner/repo.git（網址中不可含使用者名稱或密碼；私人儲存庫請用 /connect 儲存 GitHub 權杖）。`,
  projectNameTaken: (p) => `已經有名為 ${p.name} 的專案。請換一個名稱。`,
  projectCreated: (p) =>
    `已建立專案 ${p.project}${p.repo ? `（${p.repo}）` : ""}。下一步：輸入 /build ${p.project} 建置它的環境。`,
  projectsUsage: () =>
    "輸入 /projects 列出你的專案，/projects new <名稱> [儲存庫網址] [分支] 建立專案，/projects delete <名稱> 刪除專案。",
  projectDeleteConfirm: (p) =>
    `刪除 ${p.project} 會移除它的 VM、磁碟（包括尚未提交的工作）和所有綁定。若確定要刪除，請傳送 /projects delete ${p.project}。`,
  projectDeleted: (p) =>
    `已刪除專案 ${p.project}${Number(p.unbound) > 0 ? `；已通知 ${p.unbound} 個綁定的聊天，它們將改回由各人的總機處理` : ""}。`,
  projectDeleteBuilding: (p) =>
    `${p.project} 正在建置中${p.step ? `（${p.step}）` : ""}。請等建置完成後再刪除；完成時我會在建置的聊天中通知。`,
  projectDeletedHere: (p) =>
    `專案 ${p.project} 已被擁有者刪除。此聊天不再綁定它：這裡的訊息會再次交給每個人的總機。`,
  buildsUnavailable: () =>
    "此伺服器無法建置環境：它以本機行程執行代理（CLOUDCLAUDE_RUNTIME=process）。請管理員改用 Docker 執行環境。",
  buildNeedsRepo: (p) =>
    `${p.project} 沒有儲存庫，因此沒有可用的 Dockerfile。請改用範本建置（/build ${p.project} node），或提供 Dockerfile。`,
  buildUsage: () => "用法：/build <專案> [generic|node|python|go]；不指定範本時使用儲存庫的 Dockerfile。",
  buildAlreadyRunning: (p) =>
    `${p.project} 的環境已在建置中${p.step ? `（${p.step}）` : ""}。完成時我會在這裡通知。`,
  environmentNotBuilt: (p) =>
    `${p.project} 還沒有環境，現在啟動的 VM 會沒有儲存庫。請先建置：/build ${p.project}（或在私訊中請你的總機處理），完成後再在這裡傳訊息。`,
  environmentBuilding: (p) =>
    `${p.project} 的環境仍在建置中${p.step ? `（${p.step}）` : ""}。建置完成後 VM 才會啟動，屆時請再在這裡傳訊息。`,
  bindUsage: () => "請在要與專案 VM 對話的聊天中輸入 /bind <專案>。輸入 /projects 查看你的專案。",
  bindUnknownChat: (p) => `我還不認識聊天 ${p.chat}：需要先有人在那裡發言。`,
  bindAlready: (p) => `此聊天已綁定到 ${p.project}。`,
  bindTakenByOther: (p) => `此聊天已綁定到專案 ${p.project}，而你不是它的成員，因此無法變更。`,
  boundHere: (p) =>
    `${p.by} 已將此聊天綁定到專案 ${p.project}。這裡的訊息現在會交給它 VM 上的 Claude Code；輸入 /unbind 可取消。`,
  boundMoved: (p) =>
    `${p.by} 已將此聊天從 ${p.previous} 改綁到專案 ${p.project}。這裡的訊息現在會交給它 VM 上的 Claude Code。`,
  unboundHere: (p) => `${p.by} 已取消此聊天與 ${p.project} 的綁定。這裡的訊息會再次交給每個人的總機。`,
  unbindNotBound: () => "此聊天沒有綁定專案。",
  chatUnknown: (p) => `我不知道你所在的聊天中有叫「${p.chat}」的。請先在那裡發言（提及我），然後再試一次。`,
  chatAmbiguous: (p) => `你有好幾個聊天都叫「${p.chat}」；請改用它的代碼指定。`,
  personUnknown: (p) =>
    `我不認識「${p.person}」。請提供對方的聊天身分（例如 telegram:12345），或曾在你的聊天中發言者的名稱。`,
  personAmbiguous: (p) => `有好幾個人都叫「${p.person}」；請改用對方的聊天身分。`,
  membersUsage: () => "用法：/members <專案>、/members <專案> add <成員> 或 /members <專案> remove <成員>。",
  membersList: (p) => `${p.project}：擁有者 ${p.owner}；成員：${p.members || "無"}。`,
  memberAdded: (p) =>
    `${p.person} 現在是 ${p.project} 的成員：可以在綁定的聊天中與它的 VM 對話並核准工具使用。`,
  memberRemoved: (p) => `${p.person} 已不再是 ${p.project} 的成員。`,
  memberIsOwner: (p) => `那是 ${p.project} 的擁有者。`,
  memberNotFound: (p) => `${p.person} 不是 ${p.project} 的成員。`,
};
