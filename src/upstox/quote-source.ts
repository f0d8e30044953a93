import type { Quote, QuoteSource } from "../market/types.js";
import type { UpstoxClient } from "./client.js";
import { UpstoxTokenError } from "./errors.js";
import type { TokenStore } from "./token-store.js";

/**
 * Market data from Upstox for everyone at once. Quotes are the same for every user, so one
 * linked token serves them all (TokenStore.marketDataSession: the operator's choice, else the
 * longest valid); all polling counts against that token's limits.
 */
export class UpstoxQuoteSource implements QuoteSource {
  readonly name = "upstox";

  constructor(
    private readonly client: UpstoxClient,
    private readonly tokens: TokenStore,
    private readonly preferredTelegramId?: number,
  ) {}

  async getQuotes(instrumentKeys: readonly string[]): Promise<Map<string, Quote>> {
    // A token refused mid-poll is marked expired by the client; the next linked user's is tried.
    for (let attempt = 0; attempt < 3; attempt++) {
      const session = this.tokens.marketDataSession(this.preferredTelegramId);
      if (!session) throw new NoMarketDataSessionError();
      try {
        return await this.client.getFullQuotes(session, instrumentKeys);
      } catch (err) {
        if (!(err instanceof UpstoxTokenError)) throw err;
      }
    }
    throw new NoMarketDataSessionError();
  }
}

export class NoMarketDataSessionError extends Error {
  override name = "NoMarketDataSessionError";
  constructor() {
    super("No linked Upstox account has a valid token, so there is no market data. Someone needs to /login (tokens expire daily at 03:30 IST).");
  }
}
