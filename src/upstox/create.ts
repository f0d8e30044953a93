import type { Redis } from "ioredis";
import type { Config } from "../config/load.js";
import type { Database } from "../db/open.js";
import type { Logger } from "../log/logger.js";
import type { Metrics } from "../metrics.js";
import { UpstoxClient } from "./client.js";
import { UpstoxQuoteSource } from "./quote-source.js";
import { RateLimiter } from "../redis/rate-limit.js";
import { UPSTOX_LIMITS } from "./limits.js";
import { TokenStore } from "./token-store.js";

export interface UpstoxWiring {
  client: UpstoxClient;
  tokens: TokenStore;
  quoteSource: UpstoxQuoteSource;
}

/**
 * Builds the Upstox side from config: the client with the shared rate limiter, the
 * encrypted token store, and the quote source, with every hook counted in metrics.
 * `onTokenExpired` runs once per token, the first time Upstox refuses it.
 */
export function createUpstox(deps: {
  config: Config;
  db: Database;
  redis: Redis;
  log: Logger;
  metrics: Metrics;
  clock: () => number;
  /** Upstox's words when the refusal came before the token's 03:30 expiry (revoked, logged out elsewhere). */
  onTokenExpired: (userId: number, refusal: { reason?: string; scheduledExpiry: boolean }) => void;
  /** The app's shutdown: waits end when it starts, calls on the wire when its drain time is up. */
  signals?: { stopping: AbortSignal; cutOff: AbortSignal };
}): UpstoxWiring {
  const { config, metrics, log } = deps;
  const key = config.upstox.tokenEncryptionKey;
  if (!key) throw new Error("TOKEN_ENCRYPTION_KEY is required with UPSTOX_API_KEY");
  const tokens = new TokenStore(deps.db, key, deps.clock);
  const limiter = new RateLimiter({
    redis: deps.redis,
    prefix: config.redis.prefix,
    limits: UPSTOX_LIMITS,
    onWait: (category, _ms, priority) => metrics.upstoxRateLimitWaits.inc({ category, priority }),
  });
  const client = new UpstoxClient({
    apiBase: config.upstox.apiBase,
    hftBase: config.upstox.hftBase,
    assetsBase: config.upstox.assetsBase,
    apiKey: config.upstox.apiKey,
    apiSecret: config.upstox.apiSecret,
    redirectUri: config.upstox.redirectUri,
    algoName: config.upstox.algoName,
    limiter,
    log,
    transport: {
      onResponse: ({ host, status }) => metrics.upstoxRequests.inc({ host, status: String(status) }),
      ...(deps.signals ? { signals: deps.signals } : {}),
      onThrottled: ({ host, retryAfterMs, pausedMs }) => {
        metrics.upstoxThrottled.inc({ host });
        log.warn({ host, retryAfterMs, pausedMs }, `Upstox answered 429: this token's calls wait ${Math.ceil(pausedMs / 1000)} s, in every process`);
      },
      onTokenRejected: (userId, refusal) => {
        // Before markExpired: afterwards the stored expiry is "now".
        const state = tokens.state(userId);
        const scheduledExpiry = state.state !== "valid" || state.expiresAt <= deps.clock() + 60_000;
        if (!tokens.markExpired(userId)) return;
        metrics.tokensExpired.inc();
        log.warn({ userId, code: refusal.code, reason: refusal.message }, "Upstox refused a user's token: marked expired");
        deps.onTokenExpired(userId, scheduledExpiry ? { scheduledExpiry } : { scheduledExpiry, reason: refusal.message });
      },
    },
  });
  return { client, tokens, quoteSource: new UpstoxQuoteSource(client, tokens, config.upstox.marketDataUser) };
}
