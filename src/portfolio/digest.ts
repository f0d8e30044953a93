import type { Holding, Position } from "../upstox/types.js";

/** The portfolio_digest payload (templates/portfolio-digest.ts reads exactly these fields). */
export interface DigestPayload {
  when: "open" | "close";
  date: string;
  holdings: Array<{ symbol: string; quantity: number; averagePrice: number; lastPrice: number; closePrice: number; pnl: number; dayChange: number }>;
  positions: Array<{ symbol: string; product: string; quantity: number; pnl: number }>;
  dayPnl: number;
  totalValue: number;
  totalPnl: number;
}

const round2 = (n: number) => Math.round(n * 100) / 100;

/**
 * The numbers behind a digest and /portfolio, in one place: each holding's P&L and change
 * since the last close, the open (or closed today) positions, and the totals. Amounts are
 * rounded to the paisa. Day P&L = holdings' change since the last close + positions' P&L.
 */
export interface PortfolioSummary {
  holdings: DigestPayload["holdings"];
  positions: DigestPayload["positions"];
  dayPnl: number;
  totalValue: number;
  totalPnl: number;
  /** Holdings' value now against their value at the last close, in percent; null with nothing held at a price. */
  holdingsDayChangePct: number | null;
}

/** Pure: the portfolio's numbers from Upstox's holdings and positions (the order Upstox gave is kept). */
export function summarisePortfolio(holdings: readonly Holding[], positions: readonly Position[]): PortfolioSummary {
  const rows = holdings.map((h) => ({
    symbol: h.symbol,
    quantity: h.quantity,
    averagePrice: h.averagePrice,
    lastPrice: h.lastPrice,
    closePrice: h.closePrice,
    pnl: round2(h.pnl),
    dayChange: round2((h.lastPrice - h.closePrice) * h.quantity),
  }));
  const pos = positions
    .filter((p) => p.quantity !== 0 || p.realised !== 0)
    .map((p) => ({ symbol: p.symbol, product: p.product, quantity: p.quantity, pnl: round2(p.pnl) }));
  const value = holdings.reduce((a, h) => a + h.lastPrice * h.quantity, 0);
  const previous = holdings.reduce((a, h) => a + h.closePrice * h.quantity, 0);
  return {
    holdings: rows,
    positions: pos,
    dayPnl: round2(rows.reduce((a, h) => a + h.dayChange, 0) + pos.reduce((a, p) => a + p.pnl, 0)),
    totalValue: round2(value),
    totalPnl: round2(rows.reduce((a, h) => a + h.pnl, 0)),
    holdingsDayChangePct: previous > 0 ? ((value - previous) / previous) * 100 : null,
  };
}

/** Pure: a digest from holdings and positions (the numbers are summarisePortfolio's). */
export function buildDigest(when: "open" | "close", date: string, holdings: readonly Holding[], positions: readonly Position[]): DigestPayload {
  const { holdings: rows, positions: pos, dayPnl, totalValue, totalPnl } = summarisePortfolio(holdings, positions);
  return { when, date, holdings: rows, positions: pos, dayPnl, totalValue, totalPnl };
}

export interface HoldingMove {
  instrumentKey: string;
  direction: "up" | "down";
  payload: { symbol: string; quantity: number; lastPrice: number; closePrice: number; changePct: number; thresholdPct: number; dayChange: number };
}

/** Pure: holdings that moved at least `thresholdPct` since the last close. */
export function holdingMoves(holdings: readonly Holding[], thresholdPct: number): HoldingMove[] {
  const out: HoldingMove[] = [];
  for (const h of holdings) {
    if (h.closePrice <= 0 || h.quantity <= 0) continue;
    const changePct = ((h.lastPrice - h.closePrice) / h.closePrice) * 100;
    if (Math.abs(changePct) < thresholdPct) continue;
    out.push({
      instrumentKey: h.instrumentKey,
      direction: changePct > 0 ? "up" : "down",
      payload: {
        symbol: h.symbol,
        quantity: h.quantity,
        lastPrice: h.lastPrice,
        closePrice: h.closePrice,
        changePct: round2(changePct),
        thresholdPct,
        dayChange: round2((h.lastPrice - h.closePrice) * h.quantity),
      },
    });
  }
  return out;
}
