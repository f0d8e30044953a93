import type { AlertRule } from "../signals/rules.js";

/**
 * A rule in the words /alert reads, the inverse of parseAlert: what /alerts shows, so the
 * trader sees the rule as they would write it and can copy it. Defaults the parser fills in
 * are left out; frequency is written only when it is not the default ("once").
 */
export function alertCommand(rule: Pick<AlertRule, "kind" | "params" | "frequency" | "cooldownSeconds">, symbol: string): string {
  const on = (tf: string | undefined) => (tf && tf !== "1m" ? `on ${tf}` : "");
  const parts = rule.params.conditions ?? [];
  // Parts on timeframes of their own: each says its own, one-minute too (the alert's bars where
  // it has none), so that the first part's "on" tells the parser every part has one.
  if (rule.kind === "all_of" && parts.some((c) => c.params.timeframe)) {
    const each = parts.map((c) => `${partOf(c)} on ${c.params.timeframe ?? rule.params.timeframe ?? "1m"}`);
    return [symbol, each.join(" and "), frequency(rule)].filter(Boolean).join(" ");
  }
  return [symbol, condition(rule), on(rule.params.timeframe), frequency(rule)].filter(Boolean).join(" ");
}

const n = (v: number | undefined) => String(v ?? 0);
const unless = (v: number | undefined, fallback: number, text: (v: number) => string) => (v !== undefined && v !== fallback ? ` ${text(v)}` : "");

function condition({ kind, params: p }: Pick<AlertRule, "kind" | "params">): string {
  switch (kind) {
    case "price_above":
      return `above ${n(p.level)}`;
    case "price_below":
      return `below ${n(p.level)}`;
    case "cross_up":
      return `cross up ${n(p.level)}`;
    case "cross_down":
      return `cross down ${n(p.level)}`;
    case "change_pct":
      return `change ${n(p.pct)}%`;
    case "rsi_above":
    case "rsi_below":
      return `rsi ${kind === "rsi_above" ? "above" : "below"} ${n(p.level)}${unless(p.period, 14, (v) => `period ${v}`)}`;
    case "macd_cross_up":
      return "macd up";
    case "macd_cross_down":
      return "macd down";
    case "ma_cross_up":
    case "ma_cross_down":
      return `${p.ma ?? "ema"} ${n(p.fast)} ${n(p.slow)} ${kind === "ma_cross_up" ? "up" : "down"}`;
    case "bb_break_up":
      return "bb up";
    case "bb_break_down":
      return "bb down";
    case "bb_enter":
      return "bb in";
    case "volume_spike":
      return `volume ${n(p.multiple)}x`;
    case "supertrend_up":
    case "supertrend_down": {
      const custom = (p.period ?? 10) !== 10 || (p.multiplier ?? 3) !== 3 ? ` ${p.period ?? 10} ${p.multiplier ?? 3}` : "";
      return `supertrend ${kind === "supertrend_up" ? "up" : "down"}${custom}`;
    }
    case "vwap_cross_up":
      return "vwap up";
    case "vwap_cross_down":
      return "vwap down";
    case "atr_move":
      return `atr ${n(p.multiple ?? 2)}x${unless(p.period, 14, (v) => `period ${v}`)}`;
    case "gap_up":
    case "gap_down":
      return `gap ${kind === "gap_up" ? "up" : "down"} ${n(p.pct ?? 1)}%`;
    case "high_52w":
      return "52w high";
    case "low_52w":
      return "52w low";
    case "all_of":
      return (p.conditions ?? []).map(partOf).join(" and ");
  }
}

const partOf = (c: NonNullable<AlertRule["params"]["conditions"]>[number]) =>
  c.kind === "price_vs" ? priceVs(c.params) : condition({ kind: c.kind, params: c.params });

const priceVs = (p: AlertRule["params"]) =>
  `price ${p.side ?? "above"} ${p.ref === "ema" || p.ref === "sma" ? `${p.ref} ${p.period ?? 20}` : (p.ref ?? "vwap")}`;

/** "" for once (the default), "bar", "every 15m". */
function frequency(r: Pick<AlertRule, "frequency" | "cooldownSeconds">): string {
  if (r.frequency === "once") return "";
  if (r.frequency === "once_per_bar") return "bar";
  const s = r.cooldownSeconds;
  if (s === 300) return "every";
  const d = s % 86_400 === 0 ? `${s / 86_400}d` : s % 3600 === 0 ? `${s / 3600}h` : s % 60 === 0 ? `${s / 60}m` : `${s}s`;
  return `every ${d}`;
}
