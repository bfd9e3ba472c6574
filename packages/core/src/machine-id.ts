import { readFileSync } from 'node:fs'

/** The systemd machine id, when /etc/machine-id exists: tells two hosts with one name apart in audits. */
export function readMachineId(path = '/etc/machine-id'): string | null {
  try {
    const id = readFileSync(path, 'utf8').trim()
    return /^[0-9a-f]{32}$/.test(id) ? id : null
  } catch {
    return null
  }
}
