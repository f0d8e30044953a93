/** Percentages and counts, Indian style (lakh/crore grouping). Money is in money.ts. */

/** "+1.25%", "−3.46%" (a real minus sign), and "0.00%" for anything that rounds to zero. */
export function signedPct(pct: number): string {
  const shown = Math.abs(pct).toFixed(2);
  const sign = Number(shown) === 0 ? "" : pct > 0 ? "+" : pct < 0 ? "−" : "";
  return `${sign}${shown}%`;
}

const counts = new Intl.NumberFormat("en-IN", { maximumFractionDigits: 2 });

/** Share counts: "10", "1,500", "1,00,000". */
export function formatQuantity(n: number): string {
  return counts.format(n);
}

/** A volume or any other count as given: "12,34,567". */
export function formatCount(n: number): string {
  return n.toLocaleString("en-IN");
}
