import { badRequest } from "./errors.js";
import { fixtureData } from "./fixtures.js";
import type { Instrument, InstrumentStore } from "./instruments.js";

/**
 * The margin and brokerage calculators (REFERENCE §5.5.5, §5.5.6) with the documented shapes
 * (fixtures/charges_*.json). Upstox does not publish its formulas: the fake's are a plausible
 * Indian equity schedule, deterministic so tests can predict them.
 */

/** Most instruments in one margin request (DOC margin, current). */
export const MAX_MARGIN_INSTRUMENTS = 20;
export const MARGIN_PRODUCTS = ["I", "D", "CO", "MTF"];
export const BROKERAGE_PRODUCTS = ["I", "D", "CO", "MTF"];

/** Share of the order value blocked for an equity order, by product (made up, ordered as brokers do). */
export const EQUITY_MARGIN_SHARE: Record<string, number> = { D: 1, MTF: 0.25, I: 0.2, CO: 0.2 };
/** F&O: SPAN and exposure (ELM) as shares of the contract value; option buyers pay the premium instead. */
export const FO_SPAN_SHARE = 0.12;
export const FO_EXPOSURE_SHARE = 0.035;

/** Rates of the brokerage calculator, as fractions of the order value. */
export const RATES = {
  /** Intraday brokerage: this share of the order value, at most ₹20; delivery is free. */
  intradayBrokerage: 0.001,
  intradayBrokerageCap: 20,
  /** STT: delivery on both sides; intraday on the sell side only. */
  sttDelivery: 0.001,
  sttIntradaySell: 0.00025,
  /** Stamp duty on the buy side only. */
  stampDelivery: 0.00015,
  stampIntraday: 0.00003,
  transaction: 0.0000297,
  sebi: 0.000001,
  ipft: 0.000001,
  gst: 0.18,
} as const;

const paise = (x: number) => Number((Math.round(x * 100) / 100).toFixed(2));
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const isPosInt = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v) && v > 0;

interface MarginLine {
  inst: Instrument;
  quantity: number;
  transactionType: string;
  product: string;
  price: number;
}

function marginLine(v: unknown, i: number, instruments: InstrumentStore): MarginLine {
  const at = (f: string) => `instruments[${i}].${f}`;
  if (!isObj(v)) throw badRequest("UDAPI100036", "Each instrument must be an object", `instruments[${i}]`, v);
  const key = v.instrument_key;
  const inst = typeof key === "string" ? instruments.get(key) : undefined;
  if (!inst || inst.isIndex) throw badRequest("UDAPI1087", "Invalid instrument key", at("instrument_key"), key ?? null);
  if (!isPosInt(v.quantity)) throw badRequest("UDAPI100036", "Quantity should be a whole number greater than zero", at("quantity"), v.quantity ?? null);
  // UDAPI1104 is from a third-party report of the live API (REFERENCE §5.5.5).
  if (v.quantity % inst.lotSize !== 0) throw badRequest("UDAPI1104", "Quantity should be multiple of lot size", at("quantity"), v.quantity);
  if (v.transaction_type !== "BUY" && v.transaction_type !== "SELL")
    throw badRequest("UDAPI100036", "Invalid transaction_type, expected BUY or SELL", at("transaction_type"), v.transaction_type ?? null);
  if (typeof v.product !== "string" || !MARGIN_PRODUCTS.includes(v.product))
    throw badRequest("UDAPI100036", "Invalid product, expected one of I, D, CO, MTF", at("product"), v.product ?? null);
  const price = v.price ?? 0;
  if (typeof price !== "number" || !Number.isFinite(price) || price < 0) throw badRequest("UDAPI100036", "Invalid price", at("price"), v.price);
  // Without a price Upstox prices the order at the market.
  const used = price > 0 ? price : instruments.price(inst.key).last;
  return { inst, quantity: v.quantity, transactionType: v.transaction_type, product: v.product, price: used };
}

/** One `margins[]` item; fields that don't apply are 0 (fixtures/charges_margin_response.json). */
function marginOf(l: MarginLine): Record<string, number> {
  const value = l.price * l.quantity;
  let span = 0;
  let exposure = 0;
  let equity = 0;
  let premium = 0;
  if (l.inst.segment.endsWith("_EQ")) equity = value * (EQUITY_MARGIN_SHARE[l.product] ?? 1);
  else if (/^(CE|PE)$/.test(String(l.inst.record.instrument_type ?? "")) && l.transactionType === "BUY") premium = value;
  else {
    span = value * FO_SPAN_SHARE;
    exposure = value * FO_EXPOSURE_SHARE;
  }
  const total = paise(span + exposure + equity + premium);
  return {
    span_margin: paise(span),
    exposure_margin: paise(exposure),
    equity_margin: paise(equity),
    net_buy_premium: paise(premium),
    additional_margin: 0,
    total_margin: total,
    tender_margin: 0,
  };
}

/** `data` of POST /v2/charges/margin: one margin per instrument, in the request's order; no basket benefit. */
export function marginData(body: unknown, instruments: InstrumentStore): Record<string, unknown> {
  const list = isObj(body) ? body.instruments : undefined;
  if (!Array.isArray(list) || list.length === 0) throw badRequest("UDAPI100036", "instruments are required", "instruments", list ?? null);
  if (list.length > MAX_MARGIN_INSTRUMENTS)
    throw badRequest("UDAPI100036", `Maximum ${MAX_MARGIN_INSTRUMENTS} instruments are allowed in a margin request`, "instruments", list.length);
  const margins = list.map((v, i) => marginOf(marginLine(v, i, instruments)));
  const required = paise(margins.reduce((s, m) => s + m.total_margin!, 0));
  return { margins, required_margin: required, final_margin: required };
}

/** A required query parameter, or its documented error (REFERENCE §5.5.6; codes from a docs summary). */
function param(q: URLSearchParams, name: string, missingCode: string): string {
  const v = q.get(name);
  if (v === null || v.trim() === "") throw badRequest(missingCode, `${name} is required`, name, null);
  return v.trim();
}

/** The charges of one side of one order, computed from RATES. */
export function charges(o: { product: string; transactionType: string; quantity: number; price: number }) {
  const value = o.quantity * o.price;
  const intraday = o.product === "I" || o.product === "CO";
  const buy = o.transactionType === "BUY";
  const brokerage = o.product === "D" ? 0 : paise(Math.min(RATES.intradayBrokerageCap, value * RATES.intradayBrokerage));
  // STT is charged in whole rupees.
  const stt = Math.round(intraday ? (buy ? 0 : value * RATES.sttIntradaySell) : value * RATES.sttDelivery);
  const stampDuty = buy ? paise(value * (intraday ? RATES.stampIntraday : RATES.stampDelivery)) : 0;
  const other = { transaction: paise(value * RATES.transaction), clearing: 0, ipft: paise(value * RATES.ipft), sebi_turnover: paise(value * RATES.sebi) };
  const gst = paise((brokerage + other.transaction) * RATES.gst);
  const total = paise(brokerage + gst + stt + stampDuty + other.transaction + other.clearing + other.ipft + other.sebi_turnover);
  return { total, brokerage, gst, stt, stampDuty, other };
}

/** `data` of GET /v2/charges/brokerage, with the deprecated camelCase copies the doc sample carries. */
export function brokerageData(q: URLSearchParams, instruments: InstrumentStore): Record<string, unknown> {
  const key = param(q, "instrument_token", "UDAPI1059");
  const inst = instruments.get(key);
  if (!inst || inst.isIndex) throw badRequest("UDAPI1059", "Invalid instrument_token", "instrument_token", key);
  const qtyText = param(q, "quantity", "UDAPI1060");
  const quantity = /^\d+$/.test(qtyText) ? Number(qtyText) : NaN;
  if (!(quantity > 0)) throw badRequest("UDAPI1064", "Quantity should be greater than zero", "quantity", qtyText);
  const product = param(q, "product", "UDAPI1063");
  if (!BROKERAGE_PRODUCTS.includes(product)) throw badRequest("UDAPI1054", "Invalid product", "product", product);
  const transactionType = param(q, "transaction_type", "UDAPI1062");
  if (transactionType !== "BUY" && transactionType !== "SELL") throw badRequest("UDAPI1057", "Invalid transaction_type", "transaction_type", transactionType);
  const priceText = param(q, "price", "UDAPI1061");
  const price = Number(priceText);
  if (!Number.isFinite(price) || price <= 0) throw badRequest("UDAPI1065", "Price should be greater than zero", "price", priceText);

  const c = charges({ product, transactionType, quantity, price });
  const dp = fixtureData<{ charges: { dp_plan: unknown } }>("charges_brokerage.json").charges.dp_plan;
  return {
    charges: {
      total: c.total,
      brokerage: c.brokerage,
      taxes: { gst: c.gst, stt: c.stt, stamp_duty: c.stampDuty },
      other_charges: c.other,
      dp_plan: dp,
      otherTaxes: { ...c.other },
      dpPlan: structuredClone(dp),
    },
  };
}
