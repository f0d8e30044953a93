import { z } from "zod";

/**
 * Field parsers for Upstox's update payloads (order and GTT, postback and portfolio stream),
 * loose on purpose: numbers may arrive as numeric strings, optional fields may be null.
 */
export const numeric = z.union([
  z.number(),
  z
    .string()
    .trim()
    .regex(/^-?\d+(\.\d+)?$/)
    .transform(Number),
]);
export const optNum = numeric.nullish();
export const optStr = z.string().nullish();
/** An id sent as a string or a whole number. */
export const looseId = z.union([z.string().trim().min(1), z.number().int().transform(String)]);
