// Entry of `npm run web` (out/main/web.js).
import path from 'node:path';
import { runWebMode } from './run';

runWebMode(process.argv.slice(2), path.join(import.meta.dirname, '../renderer')).catch((error: unknown) => {
  console.error(`labelloop web: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
