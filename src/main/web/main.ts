// Entry of `npm run web` (out/main/web.js).
import { runWebMode } from './run';

runWebMode(process.argv.slice(2), import.meta.dirname).catch((error: unknown) => {
  console.error(`labelloop web: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
