/**
 * The notify job reads a user's pending rows of one channel, oldest first, at every send
 * (Outbox.pendingFor). Without this index that read scans the whole notifications table,
 * whose history only grows; with it, it reads just the pending rows it returns.
 */
export const sql = /* sql */ `
CREATE INDEX notifications_pending_by_user ON notifications (user_id, channel, id) WHERE status = 'pending';
`;
