import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['packages/*/src/**/*.test.ts', 'scripts/**/*.test.ts', 'migrations/src/**/*.test.ts', 'test/**/*.test.ts'],
    globalSetup: ['test/setup/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // fail2ban servers and MariaDB databases are real: keep parallelism modest on 2 cores.
    maxWorkers: 2,
    allowOnly: false,
  },
})
