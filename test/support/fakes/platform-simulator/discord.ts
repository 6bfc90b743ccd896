import { isUpload, type PlatformApis, type Reply, type Route, type SimMessage } from "./platforms.ts";

/** Discord REST: interaction webhooks, channel messages (with `nonce`), edits, typing. */
export function serveDiscord(apis: PlatformApis, route: Route, body: Record<string, unknown>): Reply {
  const content = typeof body.content === "string" ? body.content : "";
  // Attachments: multipart `files[n]` parts, named by `attachments[].id` in `payload_json`.
  const uploads = Object.entries(body).flatMap(([k, v]) =>
    /^files\[\d+\]$/.test(k) && isUpload(v) ? [v] : [],
  );
  if (uploads.some((u) => u.size > 10 * 1024 * 1024)) {
    return { status: 413, body: { code: 40005, message: "Request entity too large" } };
  }
  if ((route.method === "POST" || route.method === "PATCH") && route.endpoint !== "typing") {
    if (
      content.length > 2_000 ||
      (route.endpoint !== "editOriginal" && content.length === 0 && uploads.length === 0)
    ) {
      return { status: 400, body: { code: 50035, message: "Invalid Form Body" } };
    }
  }
  const asMessage = (m: SimMessage): Reply => ({
    status: 200,
    body: { id: m.id, channel_id: m.conversation, content: m.text, nonce: body.nonce },
  });
  const edit = (m: SimMessage | undefined): Reply => {
    if (!m) return { status: 404, body: { code: 10008, message: "Unknown Message" } };
    m.text = content;
    m.edits++;
    m.touchedAt = Date.now();
    return withButtons(asMessage(m), m);
  };
  const token = route.params.token ?? "";
  const channel = route.params.channel ?? apis.discordInteractions.get(token) ?? `interaction:${token}`;
  const rows = Array.isArray(body.components) ? (body.components as { components?: unknown[] }[]) : undefined;
  const buttons = (rows ?? []).flatMap((r) =>
    (r.components ?? []).map((c) => {
      const b = c as { label?: string; custom_id?: string };
      return { label: String(b.label), value: String(b.custom_id) };
    }),
  );
  if (buttons.some((b) => b.value.length > 100 || b.label.length > 80)) {
    return { status: 400, body: { code: 50035, message: "Invalid Form Body" } };
  }
  const withButtons = (reply: Reply, m: SimMessage | undefined): Reply => {
    if (m && rows !== undefined) m.buttons = buttons;
    for (const u of m && !reply.duplicate ? uploads : []) {
      apis.files.push({
        platform: "discord",
        conversation: m?.conversation ?? channel,
        name: u.name,
        size: u.size,
        content: u.content,
        sha256: u.sha256,
        via: route.endpoint,
        at: Date.now(),
      });
    }
    if (m && (Number(body.flags ?? 0) & 64) !== 0) m.ephemeralTo = "interaction-user";
    return reply;
  };
  switch (route.endpoint) {
    case "typing":
      return { status: 204, body: undefined };
    case "editOriginal": {
      const id = `original:${token}`;
      const existing = apis.messages.find((m) => m.platform === "discord" && m.id === id);
      if (existing) return edit(existing);
      const created = apis.post("discord", "editOriginal", channel, content, { id });
      return withButtons(asMessage(created), created);
    }
    case "followup": {
      const created = apis.post("discord", "followup", channel, content);
      return withButtons(asMessage(created), created);
    }
    case "editFollowup":
    case "editMessage":
      return edit(apis.messages.find((m) => m.platform === "discord" && m.id === route.params.message));
    default: {
      const nonceKey =
        body.enforce_nonce === true && body.nonce !== undefined ? `${channel}:${body.nonce}` : "";
      const seen = nonceKey ? apis.discordNonces.get(nonceKey) : undefined;
      if (seen) return { ...asMessage(seen), duplicate: true };
      const ref = body.message_reference as { message_id?: string } | undefined;
      const posted = apis.post("discord", "createMessage", channel, content, { replyTo: ref?.message_id });
      if (nonceKey) apis.discordNonces.set(nonceKey, posted);
      return withButtons(asMessage(posted), posted);
    }
  }
}
