import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Integration tests start real node processes and sandboxes; two cores are
    // shared between them, so run two files at a time.
    maxWorkers: 2,
    reporters: ['default'],
  },
})
