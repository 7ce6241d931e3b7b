import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    // The first start of a cluster initialises a MariaDB data directory (a few seconds).
    hookTimeout: 120_000,
  },
})
