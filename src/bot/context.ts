import type { Context } from "grammy";
import type { User } from "../db/repositories/users.js";
import type { QueueName, Queues } from "../queue/queues.js";
import type { Services } from "../services.js";
import type { OAuthStates } from "./oauth.js";

/**
 * What the chat bot and its handlers may use of the services: exactly the pieces they call,
 * never the raw `db` or `redis`. Shared state goes through a small service built once by the
 * composition root (repositories, PollState, BroadcastDrafts, Backups, OAuthStates), so the
 * compiler proves no handler writes SQL or Redis keys of its own.
 */
export type HandlerDeps = Pick<
  Services,
  // process and time
  | "config"
  | "log"
  | "clock"
  | "metrics"
  | "health"
  // repositories
  | "users"
  | "instruments"
  | "candles"
  | "calendar"
  | "watchlists"
  | "rules"
  | "audit"
  | "outbox"
  // market data
  | "quotes"
  | "pollState"
  | "marketOpen"
  // telling people, trading
  | "notifier"
  | "email"
  | "upstox"
  | "trading"
  // admin
  | "broadcastDrafts"
  | "backups"
> & {
  /** Only the job counts (/stats): a queue would also hand out its Redis connection. */
  queues: { readonly [Q in QueueName]: Pick<Queues[Q], "getJobCounts"> };
};

/** What every handler gets: its dependencies, the sender's account, and whether they are an admin. */
export interface BotExtras {
  services: HandlerDeps;
  /** The composition root's one-time login states (`services.oauth`). */
  oauth: OAuthStates;
  /** The sender's account (created on first contact in a private chat). */
  account: User | undefined;
  /** Checked on the sender's user id, never on the chat. */
  isAdmin: boolean;
}

export type BotContext = Context & BotExtras;
