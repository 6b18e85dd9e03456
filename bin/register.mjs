// Registers TypeScript (tsx) and the `?raw` shader loader for Node entry points.
import { register } from 'node:module';
import { register as registerTsx } from 'tsx/esm/api';

register('./raw-loader.mjs', import.meta.url);
registerTsx();
