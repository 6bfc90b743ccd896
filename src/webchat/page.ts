/**
 * The webchat page: one self-contained HTML document (no build step, no external assets) that posts
 * messages and shows replies as they stream in over server-sent events. The session id lives in the
 * browser's localStorage, so a reload keeps the conversation.
 */
export const WEBCHAT_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>CloudClaude webchat</title>
<style>
  :root { color-scheme: light dark; font-family: system-ui, sans-serif; }
  body { margin: 0; display: flex; flex-direction: column; height: 100vh; }
  header { padding: .75rem 1rem; border-bottom: 1px solid #8884; display: flex; gap: .5rem; align-items: baseline; }
  header h1 { font-size: 1.1rem; margin: 0; }
  header small { opacity: .7; }
  #log { flex: 1; overflow-y: auto; padding: 1rem; display: flex; flex-direction: column; gap: .5rem; }
  .msg { max-width: 75ch; padding: .5rem .75rem; border-radius: .75rem; white-space: pre-wrap; overflow-wrap: anywhere; }
  .me { align-self: flex-end; background: #2b6cb0; color: white; }
  .bot { align-self: flex-start; background: #8882; }
  .bot.streaming { opacity: .8; }
  .system { align-self: center; font-size: .85rem; opacity: .7; }
  form { display: flex; gap: .5rem; padding: .75rem 1rem; border-top: 1px solid #8884; }
  textarea { flex: 1; resize: none; font: inherit; padding: .5rem; border-radius: .5rem; }
  button { font: inherit; padding: .5rem 1rem; border-radius: .5rem; }
  .buttons { display: flex; flex-wrap: wrap; gap: .5rem; margin-top: .5rem; white-space: normal; }
  .buttons button { padding: .3rem .8rem; }
  .buttons .primary { background: #2b6cb0; color: white; border: 1px solid #2b6cb0; }
  .buttons .danger { color: #c53030; border: 1px solid #c53030; }
  .buttons .chosen { outline: 2px solid currentColor; outline-offset: 2px; }
</style>
</head>
<body>
<header><h1>CloudClaude</h1><small>webchat with your switchboard · /help for commands</small></header>
<main id="log" aria-live="polite"></main>
<form id="form">
  <textarea id="text" rows="2" placeholder="Message Claude… (Enter to send, Shift+Enter for a new line)" aria-label="Message"></textarea>
  <button type="submit" id="send">Send</button>
</form>
<script type="module">
  const log = document.getElementById("log");
  const text = document.getElementById("text");
  const session = localStorage.getItem("cloudclaude.session") ?? crypto.randomUUID();
  localStorage.setItem("cloudclaude.session", session);
  const streaming = new Map();

  function add(kind, body) {
    const el = document.createElement("div");
    el.className = "msg " + kind;
    el.textContent = body;
    log.append(el);
    log.scrollTop = log.scrollHeight;
    return el;
  }

  const events = new EventSource("/webchat/api/stream?session=" + encodeURIComponent(session));
  events.addEventListener("delta", (e) => {
    const { turnId, text: piece } = JSON.parse(e.data);
    let el = streaming.get(turnId);
    if (!el) { el = add("bot streaming", ""); el.dataset.turn = turnId; streaming.set(turnId, el); }
    el.textContent += piece;
    log.scrollTop = log.scrollHeight;
  });
  events.addEventListener("message", (e) => {
    const { text: body, turnId, buttons } = JSON.parse(e.data);
    let el = turnId && streaming.get(turnId);
    if (el) { el.textContent = body; el.classList.remove("streaming"); el.classList.add("final"); streaming.delete(turnId); }
    else el = add("bot final", body);
    if (Array.isArray(buttons) && buttons.length > 0) addButtons(el, buttons);
  });

  // Approval buttons: a press posts the button's value, which names a single-use token; the server
  // answers in the chat (a second or stale press gets a polite note and changes nothing).
  function addButtons(el, buttons) {
    const row = document.createElement("div");
    row.className = "buttons";
    for (const b of buttons) {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = b.label;
      if (b.style) button.classList.add(b.style);
      button.addEventListener("click", () => press(button, b.value));
      row.append(button);
    }
    el.append(row);
    log.scrollTop = log.scrollHeight;
  }

  async function press(button, value) {
    for (const other of button.parentElement.children) other.classList.remove("chosen");
    button.classList.add("chosen");
    button.disabled = true;
    try {
      const res = await fetch("/webchat/api/actions", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ session, value, id: crypto.randomUUID() }),
      });
      if (!res.ok) add("system", "Could not send: " + (await res.text()));
    } catch (err) {
      add("system", "Could not send: " + err);
    } finally {
      button.disabled = false;
    }
  }
  events.onerror = () => { if (events.readyState === EventSource.CLOSED) add("system", "Disconnected from the server. Reload to reconnect."); };

  async function send() {
    const body = text.value.trim();
    if (!body) return;
    text.value = "";
    add("me", body);
    const res = await fetch("/webchat/api/messages", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ session, text: body }),
    });
    if (!res.ok) add("system", "Could not send: " + (await res.text()));
  }
  document.getElementById("form").addEventListener("submit", (e) => { e.preventDefault(); send(); });
  text.addEventListener("keydown", (e) => { if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); send(); } });
</script>
</body>
</html>
`;
