// What add2db's fast path would take from node:crypto, without it: loading node:crypto pulls
// some thirty internal modules into the process, a good part of what the fast path costs over
// a bare `node -e 0`.
import { closeSync, openSync, readSync } from 'node:fs'

/**
 * FNV-1a, 64 bits, as 16 hex digits: a fingerprint to tell two values apart (the socket's name,
 * the config's environment overrides), not a secret and not proof against someone choosing
 * values to collide: only root reaches the socket.
 */
export function fingerprint(text: string): string {
  let h = 0xcbf29ce484222325n
  for (const byte of Buffer.from(text, 'utf8')) h = BigInt.asUintN(64, (h ^ BigInt(byte)) * 0x100000001b3n)
  return h.toString(16).padStart(16, '0')
}

/** A random (version 4) UUID from the kernel's generator, as crypto.randomUUID makes them. */
export function randomUuid(): string {
  const bytes = Buffer.alloc(16)
  const fd = openSync('/dev/urandom', 'r')
  try {
    readSync(fd, bytes, 0, 16, null)
  } finally {
    closeSync(fd)
  }
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x40
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80
  const hex = bytes.toString('hex')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}
