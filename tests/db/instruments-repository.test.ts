import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openDatabase, type Database } from "../../src/db/open.js";
import { InstrumentRepository } from "../../src/db/repositories/instruments.js";
import type { InstrumentInfo } from "../../src/market/types.js";

let dir: string;
let db: Database;

beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), "uab-instr-"));
  db = openDatabase(path.join(dir, "bot.sqlite"));
});

afterEach(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

const inst = (symbol: string, exchange: string, segment: string, over: Partial<InstrumentInfo> = {}): InstrumentInfo => ({
  instrumentKey: `${segment}|${symbol}`,
  tradingSymbol: symbol,
  name: `${symbol} LTD`,
  exchange,
  segment,
  instrumentType: "EQ",
  isin: null,
  lotSize: 1,
  tickSize: 0.05,
  ...over,
});

describe("InstrumentRepository", () => {
  it("upserts, looks up by key and by symbol (NSE cash first, case-insensitive)", () => {
    let t = 1000;
    const repo = new InstrumentRepository(db, () => t);
    repo.upsertMany([inst("RELIANCE", "BSE", "BSE_EQ"), inst("RELIANCE", "NSE", "NSE_EQ"), inst("RELIANCE", "NSE", "NSE_FO")]);
    expect(repo.findBySymbol(" reliance ")?.instrumentKey).toBe("NSE_EQ|RELIANCE");
    expect(repo.get("BSE_EQ|RELIANCE")?.exchange).toBe("BSE");
    expect(repo.get("NSE_EQ|NOPE")).toBeUndefined();
    t = 2000;
    repo.upsertMany([inst("RELIANCE", "NSE", "NSE_EQ", { name: "Renamed", lotSize: 5 })]);
    expect(repo.get("NSE_EQ|RELIANCE")).toMatchObject({ name: "Renamed", lotSize: 5 });
    expect(db.prepare("SELECT COUNT(*) AS n FROM instruments").get()).toEqual({ n: 3 });
  });

  it("removeNotUpdatedSince drops rows a fresh master did not rewrite, per exchange", () => {
    let t = 1000;
    const repo = new InstrumentRepository(db, () => t);
    repo.upsertMany([inst("OLDNSE", "NSE", "NSE_EQ"), inst("KEEP", "NSE", "NSE_EQ"), inst("OLDBSE", "BSE", "BSE_EQ")]);
    t = 5000;
    repo.upsertMany([inst("KEEP", "NSE", "NSE_EQ"), inst("NEW", "NSE", "NSE_EQ")]);

    // Refreshing NSE removes the NSE row that was not in the new file, and leaves BSE alone.
    expect(repo.removeNotUpdatedSince(5000, ["NSE"])).toBe(1);
    expect(repo.get("NSE_EQ|OLDNSE")).toBeUndefined();
    expect(repo.get("NSE_EQ|KEEP")).toBeDefined();
    expect(repo.get("NSE_EQ|NEW")).toBeDefined();
    expect(repo.get("BSE_EQ|OLDBSE")).toBeDefined();

    expect(repo.removeNotUpdatedSince(5000, [])).toBe(0);
    // Without an exchange filter (the "complete" file) everything stale goes.
    expect(repo.removeNotUpdatedSince(5000)).toBe(1);
    expect(repo.get("BSE_EQ|OLDBSE")).toBeUndefined();
    expect(db.prepare("SELECT COUNT(*) AS n FROM instruments").get()).toEqual({ n: 2 });
  });
});
