import type { Context } from "grammy";
import type { User } from "../db/repositories/users.js";
import type { Services } from "../services.js";
import type { OAuthStates } from "./oauth.js";

/** What every handler gets: the services, the sender's account, and whether they are an admin. */
export interface BotExtras {
  services: Services;
  oauth: OAuthStates;
  /** The sender's account (created on first contact in a private chat). */
  account: User | undefined;
  /** Checked on the sender's user id, never on the chat. */
  isAdmin: boolean;
}

export type BotContext = Context & BotExtras;
