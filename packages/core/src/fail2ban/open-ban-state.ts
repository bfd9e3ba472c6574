import type { BanStateReader } from './ban-state.js'
import { ClientBanState } from './client-ban-state.js'
import { Fail2banClient } from './fail2ban-client.js'
import { SqliteBanState } from './sqlite-ban-state.js'

/** fail2ban's own database when configured (one query), else fail2ban-client (a call per jail). */
export function openBanState(fail2ban: { client: readonly string[]; database: string | undefined; timeoutMs: number }): BanStateReader {
  return fail2ban.database ? new SqliteBanState(fail2ban.database) : new ClientBanState(new Fail2banClient(fail2ban.client, fail2ban.timeoutMs))
}
