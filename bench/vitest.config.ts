import { defineConfig } from 'vitest/config';

// Benchmarks print figures; they assert nothing about speed (see README "Benchmarks").
export default defineConfig({
  test: {
    include: ['bench/**/*.bench.ts'],
    environment: 'node',
    testTimeout: 1_800_000,
    hookTimeout: 600_000,
    pool: 'forks',
    fileParallelism: false,
  },
});
