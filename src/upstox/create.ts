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
  onTokenExpired: (userId: number) => void;
}): UpstoxWiring {
  const { config, metrics, log } = deps;
  const key = config.upstox.tokenEncryptionKey;
  if (!key) throw new Error("TOKEN_ENCRYPTION_KEY is required with UPSTOX_API_KEY");
  const tokens = new TokenStore(deps.db, key, deps.clock);
  const limiter = new RateLimiter({
    redis: deps.redis,
    prefix: config.redis.prefix,
    limits: UPSTOX_LIMITS,
    onWait: (category) => metrics.upstoxRateLimitWaits.inc({ category }),
  });
  const client = new UpstoxClient({
    apiBase: config.upstox.apiBase,
    hftBase: config.upstox.hftBase,
    assetsBase: config.upstox.assetsBase,
    apiKey: config.upstox.apiKey,
    apiSecret: config.upstox.apiSecret,
    redirectUri: config.upstox.redirectUri,
    limiter,
    log,
    transport: {
      onResponse: ({ host, status }) => metrics.upstoxRequests.inc({ host, status: String(status) }),
      onThrottled: ({ host, retryAfterMs }) => {
        metrics.upstoxThrottled.inc({ host });
        log.warn({ host, retryAfterMs }, "Upstox answered 429: backing off");
      },
      onTokenRejected: (userId) => {
        if (!tokens.markExpired(userId)) return;
        metrics.tokensExpired.inc();
        log.warn({ userId }, "Upstox refused a user's token: marked expired");
        deps.onTokenExpired(userId);
      },
    },
  });
  return { client, tokens, quoteSource: new UpstoxQuoteSource(client, tokens) };
}
