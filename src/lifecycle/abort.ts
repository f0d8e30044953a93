/**
 * Waiting that a shutdown can cut short. Every wait on the way to Upstox, Telegram or SMTP
 * (rate-limit slots, retry backoff, the call itself) takes the app's stop signal, so SIGTERM
 * never has to sit out a sleep or a hung socket.
 */

/** Resolves after `ms`, or rejects with the signal's reason as soon as it aborts. */
export function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (!signal) return new Promise((resolve) => setTimeout(resolve, ms));
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason as Error);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/** The reason the app's stop signal carries: recognisable, so an aborted job is not reported as a failure. */
export class ShuttingDownError extends Error {
  override name = "ShuttingDownError";
  constructor() {
    super("the bot is shutting down");
  }
}

export const isShutdown = (err: unknown): boolean => err instanceof ShuttingDownError || (err instanceof Error && err.name === "ShuttingDownError");

/**
 * A call that was already on the wire when the shutdown cut it off: the far end may have
 * acted on it. For a read that changes nothing; an order write must be treated as unclear.
 */
export class CallCutOffError extends ShuttingDownError {
  readonly cutOff = true;
}

/**
 * An abort signal for one call: aborts when `parent` does, or after `timeoutMs`. `done()`
 * detaches it from the parent, so a long-lived parent does not collect a listener per call.
 */
export function callSignal(timeoutMs: number, parent: AbortSignal | undefined): { signal: AbortSignal; done: () => void } {
  const timeout = AbortSignal.timeout(timeoutMs);
  if (!parent) return { signal: timeout, done: () => {} };
  const ctl = new AbortController();
  const onParent = () => ctl.abort(parent.reason);
  const onTimeout = () => ctl.abort(timeout.reason);
  if (parent.aborted) onParent();
  parent.addEventListener("abort", onParent, { once: true });
  timeout.addEventListener("abort", onTimeout, { once: true });
  return {
    signal: ctl.signal,
    done: () => {
      parent.removeEventListener("abort", onParent);
      timeout.removeEventListener("abort", onTimeout);
    },
  };
}
