import { readFileSync } from "node:fs";

/**
 * Copies of the few files of shared/upstox/fixtures the fake serves (copied so the fake
 * does not depend on where shared/ is checked out). Loaded once, handed out as deep clones.
 */
const FIXTURE_DIR = new URL("./fixtures/", import.meta.url);
const cache = new Map<string, unknown>();

export function fixture<T = unknown>(name: string): T {
  let v = cache.get(name);
  if (v === undefined) {
    v = JSON.parse(readFileSync(new URL(name, FIXTURE_DIR), "utf8")) as unknown;
    cache.set(name, v);
  }
  return structuredClone(v) as T;
}

/** The `data` of a success-envelope fixture. */
export function fixtureData<T = unknown>(name: string): T {
  return fixture<{ data: T }>(name).data;
}
