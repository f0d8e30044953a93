import type { FeedHealth } from "../http/health.js";
import { escapeHtml } from "./html.js";

const FEED_NAMES: Record<string, string> = {
  "upstox-market": "Upstox market feed",
  "upstox-portfolio": "Upstox order updates",
  simulator: "Simulator ticks",
};

const plural = (n: number, one: string, many = `${one}s`) => `${n.toLocaleString("en-IN")} ${n === 1 ? one : many}`;

/**
 * The live feeds in words, one line each, for /health: what an admin needs to know whether
 * alerts are real-time now, and if not, that REST polling covers. `feeds` undefined: poll mode.
 */
export function describeFeeds(feeds: readonly FeedHealth[] | undefined): string[] {
  if (!feeds) return ["Live feeds: off (MARKET_DATA_MODE=poll), prices come from REST polls"];
  if (!feeds.length) return ["Live feeds: no process holds them right now; REST polling covers"];
  return feeds.map((f) => {
    const name = FEED_NAMES[f.name] ?? f.name;
    const what = f.name === "upstox-portfolio" ? plural(f.subscribed, "trader") : plural(f.subscribed, "instrument");
    const parts = [
      f.ok ? `✅ ${f.status}` : `⚠️ ${f.status}`,
      what + (f.overLimit ? ` (${plural(f.overLimit, "more instrument")} over the feed's limit, polled over REST)` : ""),
      f.lastMessageAgeSeconds === null ? "nothing received yet" : `last message ${f.lastMessageAgeSeconds} s ago`,
      `${plural(f.reconnectsToday, "reconnect")} today`,
    ];
    if (f.decodeErrors) parts.push(plural(f.decodeErrors, "unreadable frame"));
    const fallback = f.ok ? "" : f.name === "upstox-portfolio" ? "; the order-book poll and the postback cover" : "; REST polling covers";
    return `${name}: ${parts.join(" · ")}${fallback}${!f.ok && f.lastError ? ` — ${escapeHtml(f.lastError)}` : ""}`;
  });
}
