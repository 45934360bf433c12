// npm links the bins of dependencies into node_modules/.bin, but not the
// project's own; this links ours so that `npx cache-warmer` works in the
// checkout after `npm ci` (run by the `prepare` script, after the build).
import { chmodSync, existsSync, mkdirSync, rmSync, symlinkSync } from 'node:fs';

const target = 'dist/src/cli/main.js';
if (!existsSync(target)) {
  console.error(`link-bin: ${target} is missing; build first`);
  process.exit(1);
}
chmodSync(target, 0o755);
mkdirSync('node_modules/.bin', { recursive: true });
rmSync('node_modules/.bin/cache-warmer', { force: true });
symlinkSync('../../dist/src/cli/main.js', 'node_modules/.bin/cache-warmer');
