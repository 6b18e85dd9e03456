// One GPU context per test process (Dawn on the machine's adapter, SwiftShader without a GPU).
import type { GpuContext } from '../../src/gpu/context.ts';
import { createNodeContext } from '../../src/gpu/node.ts';

let context: Promise<GpuContext> | null = null;

export function testContext(): Promise<GpuContext> {
  context ??= createNodeContext();
  return context;
}
