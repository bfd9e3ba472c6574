import cron from 'node-cron'
import type { CronGrammar } from './config-schema.js'

/**
 * node-cron's own grammar for readdb.schedule (the rule is `readdbSchedule` in
 * config-schema.ts), handed to loadConfig / parseConfig by the programs that run or check a
 * schedule: readdb and `f2b-central check`. The grammar is node-cron's, not a copy, so that
 * the check and the scheduler never disagree.
 *
 * A module of its own, which no module add2db loads may import: add2db never schedules, and
 * node-cron would add 32 kB to the bundle it loads at every ban. Worse, node-cron's ESM
 * build reads `import.meta.url` at load, which is empty in add2db's CommonJS bundle: add2db
 * would fail at start (tried, issue 9).
 */
export const isCronExpression: CronGrammar = (expression) => cron.validate(expression)
