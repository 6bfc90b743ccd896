import { createHash } from "node:crypto";
import type { Language } from "../router/messages.ts";
import type { Platform } from "../store/port.ts";

/**
 * The /connect page: one self-contained document (no external assets) where a person pastes their own
 * credential. It posts JSON to `api/<id>` relative to its own address (so a CLOUDCLAUDE_PUBLIC_URL with a
 * path prefix works; the id is read from the address) and shows the answer.
 * Nothing typed here is kept in the browser.
 */
const TEXT = {
  en: {
    title: "Connect your Claude credential",
    account: "For the {platform} account",
    intro:
      "Paste a credential of your own. It is checked, stored encrypted, and given only to your own agents. This page works once.",
    kind: "Kind",
    apiKey: "Anthropic API key (sk-ant-api…, from console.anthropic.com)",
    oauth: "Claude subscription token (sk-ant-oat…, from `claude setup-token`)",
    bedrock: "Amazon Bedrock",
    vertex: "Google Vertex AI",
    github: "GitHub token (optional, for private repositories)",
    value: "Key or token",
    region: "Region",
    accessKeyId: "Access key id",
    secretAccessKey: "Secret access key",
    bearerToken: "or a Bedrock API key",
    projectId: "Project id",
    serviceAccount: "Service account key (JSON, optional)",
    save: "Save",
    saved: "Saved. You can close this page and go back to the chat.",
    terms: "Anthropic's terms: a subscription token is for your own use only. Never give it to anyone else.",
    gone: "This link has expired or was already used. Send /connect to the bot in a private chat for a new one.",
  },
  "zh-TW": {
    title: "連接你的 Claude 憑證",
    account: "適用於此 {platform} 帳號：",
    intro: "請貼上你自己的憑證。它會經過檢查、加密儲存，並只提供給你自己的代理。此頁面只能使用一次。",
    kind: "類型",
    apiKey: "Anthropic API 金鑰（sk-ant-api…，取自 console.anthropic.com）",
    oauth: "Claude 訂閱權杖（sk-ant-oat…，取自 `claude setup-token`）",
    bedrock: "Amazon Bedrock",
    vertex: "Google Vertex AI",
    github: "GitHub 權杖（選用，用於私有程式庫）",
    value: "金鑰或權杖",
    region: "區域",
    accessKeyId: "存取金鑰 ID",
    secretAccessKey: "秘密存取金鑰",
    bearerToken: "或 Bedrock API 金鑰",
    projectId: "專案 ID",
    serviceAccount: "服務帳戶金鑰（JSON，選用）",
    save: "儲存",
    saved: "已儲存。你可以關閉此頁面並回到聊天。",
    terms: "Anthropic 條款：訂閱權杖僅限你本人使用。請勿提供給任何人。",
    gone: "此連結已過期或已使用。請在私人聊天中傳送 /connect 給機器人以取得新連結。",
  },
} as const satisfies Record<Language, Record<string, string>>;

const SCRIPT = `
const form = document.getElementById("f");
const kind = document.getElementById("kind");
const out = document.getElementById("out");
function show() {
  for (const el of document.querySelectorAll("[data-kind]")) el.hidden = !el.dataset.kind.split(" ").includes(kind.value);
}
kind.addEventListener("change", show);
show();
form.addEventListener("submit", async (e) => {
  e.preventDefault();
  const v = (id) => document.getElementById(id).value.trim();
  const opt = (o) => Object.fromEntries(Object.entries(o).filter(([, x]) => x !== ""));
  let value;
  if (kind.value === "bedrock") value = opt({ region: v("region"), accessKeyId: v("akid"), secretAccessKey: v("sak"), bearerToken: v("bearer") });
  else if (kind.value === "vertex") value = opt({ projectId: v("project"), region: v("vregion"), serviceAccountJson: v("sa") });
  else value = v("value");
  out.textContent = "…";
  const res = await fetch("api/" + location.pathname.split("/").pop(), {
    method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ kind: kind.value, value }),
  });
  const body = await res.json().catch(() => ({}));
  if (res.ok) { form.remove(); out.textContent = document.body.dataset.saved; }
  else out.textContent = body.error || res.statusText;
  for (const el of form.querySelectorAll("input, textarea")) el.value = "";
});
`;

/** The Content-Security-Policy of the page: its own inline script only, requests to this origin only. */
export const CONNECT_CSP = `default-src 'none'; script-src 'sha256-${createHash("sha256").update(SCRIPT).digest("base64")}'; style-src 'unsafe-inline'; connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'`;

const STYLE = `:root{color-scheme:light dark;font-family:system-ui,sans-serif}body{max-width:40rem;margin:2rem auto;padding:0 1rem}
label{display:block;margin:.75rem 0 .25rem}input,select,textarea{width:100%;font:inherit;padding:.4rem;box-sizing:border-box}
button{margin-top:1rem;font:inherit;padding:.5rem 1.25rem}#out{margin-top:1rem;font-weight:600}small{opacity:.75}`;

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const PLATFORM_NAMES: Record<Platform, string> = {
  line: "LINE",
  slack: "Slack",
  discord: "Discord",
  telegram: "Telegram",
  webchat: "webchat",
};

/** The page; `account` names the chat account the link was asked from, so nobody pastes into another's. */
export function connectPage(
  language: Language,
  account?: { readonly platform: Platform; readonly displayName: string | null },
): string {
  const t = TEXT[language];
  const e = (k: keyof typeof t) => escapeHtml(t[k]);
  const whose = account
    ? `<p id="account">${escapeHtml(t.account.replace("{platform}", PLATFORM_NAMES[account.platform] ?? account.platform))} <strong>${escapeHtml(account.displayName ?? "?")}</strong></p>`
    : "";
  return `<!doctype html>
<html lang="${language}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer"><title>${e("title")}</title><style>${STYLE}</style></head>
<body data-saved="${e("saved")}"><h1>${e("title")}</h1>${whose}<p>${e("intro")}</p>
<form id="f" autocomplete="off">
<label for="kind">${e("kind")}</label>
<select id="kind"><option value="anthropic_api_key">${e("apiKey")}</option><option value="claude_oauth_token">${e("oauth")}</option>
<option value="bedrock">${e("bedrock")}</option><option value="vertex">${e("vertex")}</option><option value="github_token">${e("github")}</option></select>
<div data-kind="anthropic_api_key claude_oauth_token github_token"><label for="value">${e("value")}</label><input id="value" type="password" spellcheck="false"></div>
<div data-kind="claude_oauth_token"><small>${e("terms")}</small></div>
<div data-kind="bedrock"><label for="region">${e("region")}</label><input id="region" placeholder="us-east-1">
<label for="akid">${e("accessKeyId")}</label><input id="akid" spellcheck="false">
<label for="sak">${e("secretAccessKey")}</label><input id="sak" type="password" spellcheck="false">
<label for="bearer">${e("bearerToken")}</label><input id="bearer" type="password" spellcheck="false"></div>
<div data-kind="vertex"><label for="project">${e("projectId")}</label><input id="project">
<label for="vregion">${e("region")}</label><input id="vregion" placeholder="us-east5">
<label for="sa">${e("serviceAccount")}</label><textarea id="sa" rows="5" spellcheck="false"></textarea></div>
<button type="submit">${e("save")}</button></form><p id="out" role="status"></p>
<script>${SCRIPT}</script></body></html>`;
}

export function goneHtml(language: Language): string {
  return `<!doctype html><html lang="${language}"><head><meta charset="utf-8"><title>CloudClaude</title><style>${STYLE}</style></head><body><p>${escapeHtml(TEXT[language].gone)}</p></body></html>`;
}
