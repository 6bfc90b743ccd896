import type { AgentsConfig } from "../config/index.ts";
import { knownSecrets } from "../secrets/redact.ts";
import type { Identity, Platform, Store, User, UserAccess } from "../store/index.ts";
import { credentialEnv, secretParts } from "./credentials.ts";

export type AccessMode = AgentsConfig["access"];

/** Who someone is to this server, decided from the store and the configuration, never from the chat. */
export interface Standing {
  readonly user: User;
  readonly identities: readonly Identity[];
  readonly access: UserAccess | undefined;
  /**
   * One of their identities is in CLOUDCLAUDE_ADMINS, or is the webchat of a server that only this machine
   * can reach (`AgentsConfig.webchatAdmin`: no public URL, a loopback listener).
   */
  readonly admin: boolean;
  /** May use the server at all. */
  readonly member: boolean;
  readonly suspended: boolean;
  /** Removed by an admin: blocked until `users allow` admits them again (in every access mode). */
  readonly removed: boolean;
  /** The server's own credential serves them when they have none of their own (operator mode). */
  readonly serverCredential: boolean;
}

export type AccessConfig = Pick<AgentsConfig, "admins" | "access" | "credentialEnv" | "webchatAdmin">;

export async function standingOf(
  store: Store,
  config: AccessConfig,
  sender: { platform: Platform; platformUserId: string; displayName?: string | null },
): Promise<Standing> {
  const user = await store.identities.resolveUser({
    platform: sender.platform,
    platformUserId: sender.platformUserId,
    displayName: sender.displayName ?? null,
  });
  return standingOfUser(store, config, user);
}

export async function standingOfUser(store: Store, config: AccessConfig, user: User): Promise<Standing> {
  const [identities, access] = await Promise.all([
    store.identities.listForUser(user.id),
    store.access.get(user.id),
  ]);
  // The webchat is its local operator only on a server nobody else can reach; otherwise it is an identity
  // like any other (`webchat:local`), admitted only if listed or allowed.
  const admin = identities.some(
    (i) =>
      (i.platform === "webchat" && config.webchatAdmin) ||
      config.admins.includes(`${i.platform}:${i.platformUserId}`),
  );
  const suspended = access?.status === "suspended";
  const removed = !admin && access?.status === "removed";
  const member = !suspended && !removed && (admin || access?.status === "active" || config.access === "open");
  const hasServerCredential = Object.keys(config.credentialEnv).length > 0;
  return {
    user,
    identities,
    access,
    admin,
    member,
    suspended,
    removed,
    serverCredential: member && hasServerCredential && (admin || access?.serverCredential === true),
  };
}

/** Who may hand out /invite codes: admins always; in invite and open modes every member. */
export function mayInvite(standing: Standing, mode: AccessMode): boolean {
  if (!standing.member) return false;
  return standing.admin || mode !== "allowlist";
}

/**
 * The environment that carries a person's credentials into *their own* agents: their own Claude credential
 * when they have one, else the server's (operator mode) when it serves them, else nothing. Each value is
 * remembered as a known secret so logs and chats never show it.
 */
export async function userCredentialEnv(
  store: Store,
  config: AccessConfig,
  userId: string,
): Promise<{ env: Record<string, string>; source: "own" | "server" | "none" }> {
  const [claude, github] = await Promise.all([
    readOrNothing(store, userId, "claude"),
    readOrNothing(store, userId, "github"),
  ]);
  const githubEnv = github ? credentialEnv(github.kind, github.value) : {};
  if (claude) return { env: { ...credentialEnv(claude.kind, claude.value), ...githubEnv }, source: "own" };
  const user = await store.users.get(userId);
  if (user && (await standingOfUser(store, config, user)).serverCredential) {
    return { env: { ...config.credentialEnv, ...githubEnv }, source: "server" };
  }
  return { env: githubEnv, source: "none" };
}

/** Whether a turn of this person has a Claude credential to run on. */
export async function hasClaudeCredential(store: Store, standing: Standing): Promise<boolean> {
  if (standing.serverCredential) return true;
  return (await store.credentials.list(standing.user.id)).some((c) => c.slot === "claude");
}

async function readOrNothing(store: Store, userId: string, slot: "claude" | "github") {
  const stored = await store.credentials.read(userId, slot);
  if (!stored) return undefined;
  for (const part of secretParts(stored.kind, stored.value)) knownSecrets.add(part);
  return stored;
}
