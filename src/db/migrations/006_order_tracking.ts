/**
 * Order status tracking: each order's notified high-water mark (`stage`: placed, open,
 * partially_filled, filled, rejected, cancelled; `filled_quantity` is the largest seen), the
 * Upstox account it belongs to, and when Upstox says its latest state happened. Webhooks name
 * the Upstox account, so users are looked up by it.
 */
export const sql = /* sql */ `
ALTER TABLE orders ADD COLUMN stage TEXT;
ALTER TABLE orders ADD COLUMN upstox_user_id TEXT;
ALTER TABLE orders ADD COLUMN status_at INTEGER;
CREATE INDEX users_upstox_user_id ON users (upstox_user_id) WHERE upstox_user_id IS NOT NULL;
`;
