#!/usr/bin/env node
// The `assent` command. The sources are TypeScript run through tsx, so a checkout needs no build.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
