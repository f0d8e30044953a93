/**
 * Money, Indian style (lakh/crore grouping: 1,23,45,678.90), always to the paisa. A loss is
 * "−₹452.00" with a real minus sign, and an amount that rounds to zero is "₹0.00", never
 * signed.
 */

const paise = new Intl.NumberFormat("en-IN", { minimumFractionDigits: 2, maximumFractionDigits: 2 });

/** A price without the rupee sign, for templates that write "₹{{price}}": "1,23,456.50". */
export function formatPrice(n: number): string {
  return paise.format(n);
}

/** "₹1,450.00"; a loss is "−₹452.00" (a real minus sign); `plus` adds "+" to gains. Rounds-to-zero is "₹0.00". */
export function formatRupees(n: number, plus = false): string {
  const shown = formatPrice(Math.abs(n));
  const sign = shown === "0.00" ? "" : n < 0 ? "−" : plus ? "+" : "";
  return `${sign}₹${shown}`;
}

/** A P&L or a change: "+₹1,200.00", "−₹452.00", and "₹0.00" for anything that rounds to zero. */
export function signedRupees(n: number): string {
  return formatRupees(n, true);
}

/**
 * A price, a level or a margin with the rupee sign: "₹1,450.00". For a negative number this
 * is Intl's "₹-5.00", not "−₹5.00": kept as the chat replies have always shown it.
 */
export function rupees(n: number): string {
  return `₹${formatPrice(n)}`;
}
