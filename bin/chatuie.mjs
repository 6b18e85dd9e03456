#!/usr/bin/env node
// `npx chatuie …` — the Node command line of ChatUIE Web (engine on Dawn/WebGPU).
import { register } from 'node:module';
import { register as registerTsx } from 'tsx/esm/api';

register('./raw-loader.mjs', import.meta.url);
registerTsx();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
