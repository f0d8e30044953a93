/**
 * Waiting that a shutdown can cut short. Every wait on the way to Upstox, Telegram or SMTP
 * (rate-limit slots, retry backoff, the call itself) takes the app's stop signal, so SIGTERM
 * never has to sit out a sleep or a hung socket.
 */

/** Resolves after `ms`, or rejects with the signal's reason as soon as it aborts. */
export function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (!signal) return new Promise((resolve) => setTimeout(resolve, ms));
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/** Races work against the signal: rejects with its reason when it aborts first (the work is left to settle). */
export function untilAborted<T>(work: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return work;
  if (signal.aborted) {
    work.catch(() => {});
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      work.catch(() => {});
      reject(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(e);
      },
    );
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

/** Both signals in one (the call's own deadline and the app's stop). */
export function eitherSignal(a: AbortSignal, b: AbortSignal | undefined): AbortSignal {
  return b ? AbortSignal.any([a, b]) : a;
}
