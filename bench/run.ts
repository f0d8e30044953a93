import { benchDelivery } from "./delivery.js";
import { benchIndicators } from "./indicators.js";
import { benchPipeline } from "./pipeline.js";
import { benchUpstoxQuotes } from "./upstox-quotes.js";
import { meets, printResults, type BenchResult } from "./report.js";

/** `npm run bench`: every performance figure, printed as a ratio against its limit. */
async function main(): Promise<void> {
  const all: BenchResult[] = [];
  const upstox = await benchUpstoxQuotes(5000);
  printResults("Upstox quotes: batching and parsing (5,000 instruments)", upstox);
  all.push(...upstox);
  const indicators = await benchIndicators();
  printResults("Indicators: streaming vs full recompute, memory over a week (2,000 instruments)", indicators);
  all.push(...indicators);
  const pipeline = await benchPipeline();
  printResults("Signal engine: quote batch to outbox (2,000 instruments, 50,000 rules)", pipeline);
  all.push(...pipeline);
  const delivery = await benchDelivery();
  printResults("Telegram delivery: outbox to the fake Bot API with flood limits (2,000 messages, 600 chats)", delivery);
  all.push(...delivery);
  const missed = all.filter((r) => !meets(r));
  console.log(`\n${all.length - missed.length} of ${all.length} figures within target`);
  process.exitCode = missed.length ? 1 : 0;
}

void main();
