import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));

/**
 * The node options `npm start` runs the bot with (package.json: `node <options> dist/src/main.js`),
 * so the bench's processes run as production does.
 */
export function startNodeOptions(): string[] {
  const pkg = JSON.parse(readFileSync(path.resolve(here, "..", "..", "package.json"), "utf8")) as { scripts?: Record<string, string> };
  const words = (pkg.scripts?.start ?? "").trim().split(/\s+/);
  const at = words.indexOf("node");
  if (at < 0) return [];
  const options: string[] = [];
  for (const w of words.slice(at + 1)) {
    if (!w.startsWith("-")) break;
    options.push(w);
  }
  return options;
}
