import type { CentralDb } from '../db-adapter.js'
import type { HostRow, StatusWrite } from '../host-writes.js'

export type { StatusWrite }

/**
 * A poll batch's outcome in one transaction: its statuses (each error bounded to what
 * `ban_status.error` holds), and the host's cursor moved to the batch's last stamp. The
 * cursor never passes a ban whose status was not written.
 */
export async function recordDecisions(central: CentralDb, host: HostRow, writes: readonly StatusWrite[], cursorSeq: number): Promise<void> {
  await central.adapter.hostWrites.recordDecisions(central.db, host, writes, cursorSeq)
}
