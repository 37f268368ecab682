// `npm ci` refuses a lock file that lacks an entry for any platform-specific optional dependency
// ("Missing: ... from lock file"), and npm leaves such entries out when the registry cannot serve that
// exact version for every platform. This catches it here rather than in CI. If it fails: pin the
// package (or override its dependency) to a version the registry has for every platform, then
// `rm -rf node_modules package-lock.json && npm install`.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

const root = resolve(import.meta.dirname, '../..');

test('every optional dependency in the lock file has its own entry', () => {
  const lock = JSON.parse(readFileSync(resolve(root, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { version?: string; optionalDependencies?: Record<string, string> }>;
  };
  const missing: string[] = [];
  for (const [path, entry] of Object.entries(lock.packages)) {
    for (const [name, range] of Object.entries(entry.optionalDependencies ?? {})) {
      const nested = `${path ? path + '/' : ''}node_modules/${name}`;
      // An entry without a version is what npm writes when the registry had no such package: npm ci
      // then reports it missing all the same.
      const e = lock.packages[nested] ?? lock.packages[`node_modules/${name}`];
      if (!e || !e.version) missing.push(`${name}@${range} (for ${path || 'the project'})`);
    }
  }
  assert.equal(missing, [], `package-lock.json lacks: ${missing.join(', ')}`);
});

test.run();
