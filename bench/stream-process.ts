/**
 * The fake Upstox of the stream bench in a process of its own (forked by bench/stream.ts as
 * `node dist-bench/bench/stream-process.js`, with an IPC channel), so encoding and writing
 * 2,000 frames a second does not run on the event loop of the app being measured: Upstox's
 * servers are not on the bot's machine either.
 *
 * Protocol: it sends `{ ready }` once the fake listens; then it answers each request in turn
 * with one reply (see StreamFakeRequest / StreamFakeReply in stream.ts).
 */
import { seededRandom } from "../src/market/simulator.js";
import { FakeUpstox } from "../tests/fakes/upstox/index.js";
import { generatedKeys, INSTRUMENTS, priceWalk, Ticker, type StreamFakeReady, type StreamFakeReply, type StreamFakeRequest } from "./stream.js";

async function main(): Promise<void> {
  const fake = await FakeUpstox.start({ instruments: INSTRUMENTS, recordRequests: false });
  const prices = new Map(generatedKeys(fake).map((k) => [k, fake.getPrice(k)]));
  let ticker: Ticker | undefined;

  const answer = async (req: StreamFakeRequest): Promise<StreamFakeReply> => {
    switch (req.cmd) {
      case "subscribed":
        return { subscribed: fake.feedConnections().find((c) => c.kind === "market")?.subscriptions.size ?? 0 };
      case "tick":
        ticker = new Ticker(fake, req.keys, priceWalk(prices, seededRandom(req.seed)), req.perSecond);
        ticker.start();
        return {};
      case "counters":
        return { pushed: ticker?.pushed ?? 0, busyMs: ticker?.busyMs ?? 0 };
      case "close":
        ticker?.stop();
        await fake.close();
        return {};
    }
  };
  process.on("message", (req: StreamFakeRequest) => {
    void answer(req).then(
      (reply) => {
        process.send!(reply);
        if (req.cmd === "close") process.disconnect();
      },
      (err: unknown) => process.send!({ error: (err as Error).message }),
    );
  });
  // The bench going away takes the fake with it.
  process.on("disconnect", () => void fake.close().finally(() => process.exit(0)));
  const ready: StreamFakeReady = {
    ready: true,
    upstox: { apiBase: fake.apiBase, hftBase: fake.hftBase, clientId: fake.clientId, clientSecret: fake.clientSecret, redirectUri: fake.redirectUri },
    token: fake.issueToken({ userId: "BENCH01" }),
    prices: [...prices],
  };
  process.send!(ready);
}

void main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
