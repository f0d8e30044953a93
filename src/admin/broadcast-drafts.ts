import { randomBytes } from "node:crypto";
import type { Redis } from "ioredis";

/** A broadcast an admin has written and not yet confirmed. */
export interface BroadcastDraft {
  text: string;
  /** The Telegram user id of the admin who wrote it. */
  by: number;
}

/**
 * Broadcast drafts between /broadcast and the admin's "Send" or "Cancel": each lives ten
 * minutes and is taken once, so a double tap or a second admin cannot send it twice. The
 * send lock lets at most one broadcast out a minute across all processes.
 */
export class BroadcastDrafts {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly draftTtlSeconds = 600,
    /** At most one broadcast goes out per this many seconds. */
    readonly everySeconds = 60,
  ) {}

  /** Saves a draft for ten minutes; the id (12 hex digits) goes into the buttons. */
  async save(draft: BroadcastDraft): Promise<string> {
    const id = randomBytes(6).toString("hex");
    await this.put(id, draft);
    return id;
  }

  /** The draft, removing it; undefined if already taken, cancelled or expired. */
  async take(id: string): Promise<BroadcastDraft | undefined> {
    const raw = await this.redis.getdel(this.key(id));
    return raw === null ? undefined : (JSON.parse(raw) as BroadcastDraft);
  }

  /** Puts a taken draft back (for another ten minutes), e.g. when the send lock was held. */
  async putBack(id: string, draft: BroadcastDraft): Promise<void> {
    await this.put(id, draft);
  }

  /** Takes the send lock for `everySeconds`; false when another broadcast went out within that time. */
  async lockSending(id: string): Promise<boolean> {
    return (await this.redis.set(`${this.prefix}:broadcast:lock`, id, "EX", this.everySeconds, "NX")) === "OK";
  }

  private async put(id: string, draft: BroadcastDraft): Promise<void> {
    await this.redis.set(this.key(id), JSON.stringify({ text: draft.text, by: draft.by }), "EX", this.draftTtlSeconds);
  }

  private key(id: string): string {
    return `${this.prefix}:broadcast:${id}`;
  }
}
