import { spawn, type ChildProcess } from "node:child_process";
import { pingRedis } from "../../src/redis/connect.js";
import { removeDir, tempDir, unusedPort } from "./env.js";
import { waitUntil } from "./wait.js";

/**
 * A redis-server of the test's own, on a port of its own, persisting nothing: the test can
 * kill it and start it again empty on the same port, as a Redis restart looks to the bot.
 */
export interface OwnRedis {
  url: string;
  port: number;
  /** Kills the server (SIGKILL: nothing is saved, nothing is said to clients). */
  kill(): Promise<void>;
  /** Starts it again, empty, on the same port. */
  start(): Promise<void>;
  close(): Promise<void>;
}

export async function ownRedis(): Promise<OwnRedis> {
  const port = await unusedPort();
  const dir = tempDir("uab-redis-");
  let child: ChildProcess | undefined;
  const url = `redis://127.0.0.1:${port}`;
  const start = async () => {
    child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir], { stdio: "ignore" });
    await waitUntil(() => pingRedis(url, 300), { timeoutMs: 10_000, what: `redis-server on ${port}` });
  };
  const kill = async () => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const gone = new Promise<void>((r) => c.once("exit", () => r()));
    c.kill("SIGKILL");
    await gone;
  };
  await start();
  return {
    url,
    port,
    kill,
    start,
    close: async () => {
      await kill();
      removeDir(dir);
    },
  };
}
