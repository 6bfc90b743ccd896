import type { Params } from "./messages.ts";

/**
 * The build part of the message catalog (see messages.ts): what the Build Service posts into the chat that
 * asked for a build (src/build/service.ts). English, and Traditional Chinese below. `log` parameters are
 * the last lines of the build log, shown as a code block.
 */
/**
 * Who can fix a Dockerfile: in the person's private chat that is the switchboard answering there ("me"); in
 * a group it is the VM's Claude Code, which has no build tools, so the offer points at the private chat.
 */
const fixOffer = (p: Params) =>
  p.here === "switchboard"
    ? "Tell me to fix the Dockerfile and I will try"
    : "Your switchboard can fix the Dockerfile: ask it in your private chat with me";
const fixOfferZh = (p: Params) =>
  p.here === "switchboard"
    ? "要我修正 Dockerfile 並再試一次，請告訴我"
    : "你的總機可以修正 Dockerfile：請在你與我的私訊中請它處理";

export const buildEn = {
  buildAccepted: (p: Params) => `Building the environment of ${p.project}… I will post progress here.`,
  buildProgress: (p: Params) => `${p.project}: ${p.step}`,
  buildRestarted: (p: Params) =>
    `The build of ${p.project} was interrupted (the server running it stopped); starting it again.`,
  buildSucceeded: (p: Params) =>
    `The environment of ${p.project} is ready (revision ${p.revision}, ${p.steps} steps, ${p.duration}). ` +
    `Bind a group to it: send /bind ${p.project} there, or ask ${p.here === "switchboard" ? "me" : "your switchboard (your private chat with me)"}.\n` +
    `A VM that is already running keeps its old image until /vm restart ${p.project}.`,
  buildFailed: (p: Params) =>
    `The build of ${p.project} failed${p.step ? ` at ${p.step}` : ""}: ${p.error}` +
    `${p.log ? `\nLast lines of the build log:\n\`\`\`\n${p.log}\n\`\`\`` : ""}\n` +
    `${fixOffer(p)}, or send /build ${p.project} again.`,
  buildTimedOut: (p: Params) =>
    `The build of ${p.project} took longer than ${p.duration}, so I stopped it${p.step ? ` at ${p.step}` : ""}.` +
    `${p.log ? `\nLast lines of the build log:\n\`\`\`\n${p.log}\n\`\`\`` : ""}\n` +
    `${fixOffer(p)} (a slow step can often be made faster), or send /build ${p.project} again.`,
  buildCloneFailed: (p: Params) =>
    `The build of ${p.project} failed: I could not clone its repository.\n` +
    (p.reason !== "other" && p.asker === "member"
      ? `Its owner's GitHub token is missing or was refused, and only the owner's token clones it: ask the owner of ${p.project} to store one that can read it with /connect`
      : p.reason === "private"
        ? "It is private: store a GitHub token that can read it with /connect (in your private chat with me)"
        : p.reason === "token-refused"
          ? "Your stored GitHub token was refused: is it still valid, and can it read this repository? Store a new one with /connect"
          : `git said: ${p.error}\nFix that`) +
    `, then send /build ${p.project} again.`,
  buildNoDockerfile: (p: Params) =>
    `The build of ${p.project} failed: its repository has no ${p.path}. ${fixOffer(p)} (or add one to the repository), ` +
    `or build from a template: /build ${p.project} node.`,
  buildDockerfileOutside: (p: Params) =>
    `The build of ${p.project} failed: ${p.path} points outside the repository, so I will not read it. Use a Dockerfile inside the repository.`,
  buildGaveUp: (p: Params) =>
    `The build of ${p.project} was interrupted ${p.attempts} times, so I stopped trying. Send /build ${p.project} to try again.`,
} satisfies Record<string, (p: Params) => string>;

export const buildZhTW: Record<keyof typeof buildEn, (p: Params) => string> = {
  buildAccepted: (p) => `正在建置 ${p.project} 的環境…… 我會在這裡回報進度。`,
  buildProgress: (p) => `${p.project}：${p.step}`,
  buildRestarted: (p) => `${p.project} 的建置被中斷了（執行它的伺服器停止了）；正在重新開始。`,
  buildSucceeded: (p) =>
    `${p.project} 的環境已就緒（版本 ${p.revision}，${p.steps} 個步驟，耗時${p.duration}）。` +
    `要讓群組使用它：在該群組傳送 /bind ${p.project}，或${p.here === "switchboard" ? "直接跟我說" : "告訴你的總機（你與我的私訊）"}。\n` +
    `已在執行的 VM 會繼續使用舊映像檔，直到 /vm restart ${p.project}。`,
  buildFailed: (p) =>
    `${p.project} 的建置失敗了${p.step ? `（在 ${p.step}）` : ""}：${p.error}` +
    `${p.log ? `\n建置記錄的最後幾行：\n\`\`\`\n${p.log}\n\`\`\`` : ""}\n` +
    `${fixOfferZh(p)}；或再傳送一次 /build ${p.project}。`,
  buildTimedOut: (p) =>
    `${p.project} 的建置超過${p.duration}，所以我停止了它${p.step ? `（在 ${p.step}）` : ""}。` +
    `${p.log ? `\n建置記錄的最後幾行：\n\`\`\`\n${p.log}\n\`\`\`` : ""}\n` +
    `${fixOfferZh(p)}（耗時的步驟通常可以加快）；或再傳送一次 /build ${p.project}。`,
  buildCloneFailed: (p) =>
    `${p.project} 的建置失敗了：無法複製（clone）它的儲存庫。\n` +
    (p.reason !== "other" && p.asker === "member"
      ? `擁有者的 GitHub 權杖不存在或被拒絕，而只有擁有者的權杖能複製它：請 ${p.project} 的擁有者用 /connect 儲存一個能讀取它的權杖`
      : p.reason === "private"
        ? "這是私人儲存庫：請用 /connect 儲存一個能讀取它的 GitHub 權杖（在你與我的私訊中）"
        : p.reason === "token-refused"
          ? "你儲存的 GitHub 權杖被拒絕了：它是否仍然有效、能否讀取這個儲存庫？請用 /connect 儲存新的權杖"
          : `git 的訊息：${p.error}\n請修正這個問題`) +
    `，然後再傳送一次 /build ${p.project}。`,
  buildNoDockerfile: (p) =>
    `${p.project} 的建置失敗了：它的儲存庫裡沒有 ${p.path}。${fixOfferZh(p)}（或在儲存庫中加入一個），` +
    `或改用範本建置：/build ${p.project} node。`,
  buildDockerfileOutside: (p) =>
    `${p.project} 的建置失敗了：${p.path} 指向儲存庫之外，所以我不會讀取它。請使用儲存庫內的 Dockerfile。`,
  buildGaveUp: (p) =>
    `${p.project} 的建置已被中斷 ${p.attempts} 次，所以我不再嘗試。傳送 /build ${p.project} 可以再試一次。`,
};
