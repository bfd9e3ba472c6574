import { loadConfig } from '@f2b-central/core/config/load-config'
import { asDatabaseError } from '@f2b-central/core/db/database-error'
import { migrateToLatest, migrationStatus } from '@f2b-central/core/db/migrate'
import { describeTarget, openDatabase } from '@f2b-central/core/db/open-database'
import { ExitCode } from '@f2b-central/core/exit-codes'
import { COMMON_OPTIONS, parseCommandArgs } from '../command-context.js'

const USAGE = `usage: f2b-central migrate [--status] [--json] [--config FILE]
Applies every pending migration to the configured database (run it with an operator account).`

export async function run(argv: string[]): Promise<ExitCode> {
  const { values } = parseCommandArgs('migrate', argv, { status: { type: 'boolean', default: false }, ...COMMON_OPTIONS })
  if (values.help) {
    process.stdout.write(`${USAGE}\n`)
    return ExitCode.Ok
  }
  const config = loadConfig({ path: values.config })
  const central = await openDatabase(config.database.target, { timeoutMs: config.database.timeoutMs })
  try {
    if (values.status) {
      const states = await migrationStatus(central)
      if (values.json) process.stdout.write(`${JSON.stringify(states.map((s) => ({ name: s.name, appliedAt: s.appliedAt?.toISOString() ?? null })))}\n`)
      else for (const s of states) process.stdout.write(`${s.appliedAt ? 'applied' : 'pending'}  ${s.name}${s.appliedAt ? `  ${s.appliedAt.toISOString()}` : ''}\n`)
      return ExitCode.Ok
    }
    const results = await migrateToLatest(central)
    const where = describeTarget(config.database.target)
    if (results.length === 0) process.stdout.write(`${where}: schema is up to date\n`)
    for (const r of results) process.stdout.write(`${where}: applied ${r.migrationName}\n`)
    return ExitCode.Ok
  } catch (err) {
    throw asDatabaseError(err, `database ${describeTarget(config.database.target)}`)
  } finally {
    await central.close()
  }
}
