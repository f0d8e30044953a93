import { setMaxListeners } from "node:events";
import type { Logger } from "../log/logger.js";
import { ShuttingDownError } from "./abort.js";

export interface Cleanup {
  name: string;
  run: () => Promise<void> | void;
  /** The most this step may take (default 5 s); it is cut shorter when the budget runs low. */
  timeoutMs?: number;
  /** Drops what the step could not close politely (connections, a child process), so nothing keeps the process alive. */
  abandon?: () => Promise<void> | void;
  /** A drain: when it overruns, calls still in flight are cut off before it is abandoned. */
  drain?: boolean;
}

export interface StopOutcome {
  /** Steps that did not finish politely and were abandoned (their connections dropped). */
  abandoned: string[];
  ms: number;
}

/** Time kept back for each step still to run after the one in progress, and for the exit itself. */
const STEP_RESERVE_MS = 250;
const EXIT_RESERVE_MS = 750;
/** How long in-flight work gets to settle after it was aborted, before its connections are dropped. */
const SETTLE_MS = 1000;

/**
 * The shutdown of the whole app within one budget (SHUTDOWN_TIMEOUT). Steps close in reverse
 * order of opening, each bounded by what is left of the budget; a step that overruns is
 * abandoned and the next one runs, so the process always gets to exit on time.
 *
 * Two signals tell the rest of the app how far the stop has got:
 * - `stopping` fires at once: waits that only lead to new work (a rate-limit slot, a retry
 *   backoff) end now;
 * - `cutOff` fires when the drain's share of the budget is spent: calls still on the wire
 *   (a Telegram send, an SMTP transaction, an Upstox read) are aborted, and their outbox rows
 *   stay pending for the next start.
 */
export class ShutdownStack {
  private readonly steps: Cleanup[] = [];
  private readonly stoppingCtl = new AbortController();
  private readonly cutOffCtl = new AbortController();
  private stopped: Promise<StopOutcome> | undefined;
  private deadline = Infinity;

  readonly stopping: AbortSignal = this.stoppingCtl.signal;
  readonly cutOff: AbortSignal = this.cutOffCtl.signal;

  constructor(private readonly opts: { budgetMs: number; log: Logger; now?: () => number }) {
    // Every wait and every call in flight listens on these (and detaches when done): many at once is normal.
    setMaxListeners(0, this.stopping, this.cutOff);
  }

  private now(): number {
    return (this.opts.now ?? performance.now.bind(performance))();
  }

  push(step: Cleanup): void {
    this.steps.push(step);
  }

  /**
   * A drain step: `close` waits for work in progress; when it has not finished by the time the
   * later steps need the rest of the budget, in-flight work is cut off, given a moment to
   * settle, and then `abandon` drops it.
   */
  pushDrain(step: { name: string; close: () => Promise<void>; abandon: () => Promise<void> }): void {
    // Steps run from the end of the list: those still to run after this one are the ones before it.
    const laterSteps = this.steps.length;
    this.push({
      name: step.name,
      timeoutMs: Infinity,
      drain: true,
      run: async () => {
        const cutAt = this.deadline - SETTLE_MS - laterSteps * STEP_RESERVE_MS;
        const timer = setTimeout(() => this.cutInFlight(), Math.max(0, cutAt - this.now()));
        try {
          await step.close();
        } finally {
          clearTimeout(timer);
        }
      },
      abandon: step.abandon,
    });
  }

  /** Aborts calls on the wire now (also done by the drain when its time is up). */
  cutInFlight(): void {
    if (!this.cutOff.aborted) this.cutOffCtl.abort(new ShuttingDownError());
  }

  /**
   * Runs every step once, within `budgetMs` (default: the whole budget; less when part of it
   * was spent before the stop began); later calls get the same outcome. Never rejects.
   */
  stop(budgetMs = this.opts.budgetMs): Promise<StopOutcome> {
    return (this.stopped ??= this.run(budgetMs));
  }

  private async run(budgetMs: number): Promise<StopOutcome> {
    const started = this.now();
    this.deadline = started + budgetMs - EXIT_RESERVE_MS;
    this.stoppingCtl.abort(new ShuttingDownError());
    const abandoned: string[] = [];
    while (this.steps.length) {
      const step = this.steps[this.steps.length - 1]!;
      const later = this.steps.length - 1;
      const left = this.deadline - this.now() - later * STEP_RESERVE_MS;
      const limit = Math.max(50, Math.min(step.timeoutMs ?? 5000, left));
      try {
        await withTimeout(Promise.resolve().then(step.run), limit, `closing ${step.name}`);
      } catch (err) {
        abandoned.push(step.name);
        this.opts.log.warn({ err: (err as Error).message }, `${step.name} did not close cleanly: dropped`);
        // Only the drain's overrun cuts calls off: a slow step before it leaves them their time.
        if (step.drain) this.cutInFlight();
        if (step.abandon)
          await withTimeout(Promise.resolve().then(step.abandon), Math.max(50, Math.min(SETTLE_MS, this.deadline - this.now())), `dropping ${step.name}`).catch(
            () => {},
          );
      }
      this.steps.pop();
    }
    this.cutInFlight();
    const ms = Math.round(this.now() - started);
    if (abandoned.length)
      this.opts.log.warn({ dropped: abandoned, ms }, "stopped; what did not close in time was dropped (pending notifications go after the restart)");
    else this.opts.log.debug({ ms }, "every part closed in time");
    return { abandoned, ms };
  }
}

export function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  if (!Number.isFinite(ms)) return work;
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${Math.round(ms)} ms`)), ms);
  });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}
