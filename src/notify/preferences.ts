import type { PrefKind, User } from "../db/repositories/users.js";
import { istParts } from "../market/calendar.js";
import type { Channel } from "./outbox.js";

/** Which of the user's settings governs a notification kind (undefined: always delivered, e.g. broadcasts). */
export function prefKindOf(kind: string): PrefKind | undefined {
  if (kind === "price_alert") return "price";
  if (kind === "indicator_alert") return "indicator";
  if (kind.startsWith("portfolio") || kind === "holding_move") return "portfolio";
  if (kind.startsWith("order_") || kind.startsWith("gtt_")) return "orders";
  return undefined;
}

/**
 * Where a notification of `kind` goes for this user right now: the channels they chose and
 * can be reached on, none while muted or with that kind turned off.
 */
export function channelsFor(user: User, kind?: string, now = Date.now()): Channel[] {
  const pref = kind ? prefKindOf(kind) : undefined;
  if (pref && user.prefs[pref] === "off") return [];
  if (pref && user.mutedUntil !== null && user.mutedUntil > now) return [];
  const out: Channel[] = [];
  if ((user.channels === "telegram" || user.channels === "both") && user.telegramId !== null) out.push("telegram");
  if ((user.channels === "email" || user.channels === "both") && user.email && user.emailVerified) out.push("email");
  return out;
}

/** True inside quiet hours (IST, may wrap midnight) or when the kind is set to silent. */
export function deliverSilently(user: User, kind: string, now: number): boolean {
  const pref = prefKindOf(kind);
  if (pref && user.prefs[pref] === "silent") return true;
  if (!user.quietStart || !user.quietEnd) return false;
  const toMin = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));
  const m = istParts(new Date(now)).minute;
  const start = toMin(user.quietStart);
  const end = toMin(user.quietEnd);
  return start < end ? m >= start && m < end : m >= start || m < end;
}
