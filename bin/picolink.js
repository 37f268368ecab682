#!/usr/bin/env node
// The `picolink` command: loads the TypeScript command line (host/cli/main.ts) through tsx's loader,
// so `npx picolink` runs the same sources the tests check, with no build step.
import { register } from 'tsx/esm/api';

register();
await import('../host/cli/main.ts');
