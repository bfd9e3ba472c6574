const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }

/**
 * Text for HTML, in element content and in quoted attribute values alike. Every stored value
 * on the status page goes through this: a host name, jail, address or error text in the
 * database is hostile input, written by whoever holds a host's account.
 */
export function escapeHtml(value: string | number): string {
  return String(value).replace(/[&<>"']/g, (c) => ENTITIES[c] ?? c)
}

/**
 * A stored value as a metric label or a log field shows it: printable ASCII as is, anything
 * else (a newline, an escape sequence, non-ASCII) JSON-quoted, so it cannot forge a line.
 */
export function printable(value: string, max = 253): string {
  const cut = value.length > max ? `${value.slice(0, max)}…` : value
  return /^[\x20-\x7e]*$/.test(cut) ? cut : JSON.stringify(cut)
}
