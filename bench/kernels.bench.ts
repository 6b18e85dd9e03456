// Kernel timings: the tiled matmul and matvec (GFLOP/s), attention over the KV cache, and
// one training step of a small GLM, on whatever adapter Dawn finds (SwiftShader on a machine
// without a GPU — numbers there say nothing about real GPUs). Prints markdown tables.
//   node --import ./bin/register.mjs bench/kernels.bench.ts
import { createNodeContext } from '../src/gpu/node.ts';
import { linear } from '../src/gpu/kernels/matmul.ts';
import { glmAttention } from '../src/gpu/kernels/attention.ts';
import { tensor } from '../src/gpu/tensor.ts';
import type { GpuContext } from '../src/gpu/context.ts';

const ctx = await createNodeContext();
console.log(`device: ${ctx.adapterDescription}\n`);

async function time(ctx: GpuContext, run: () => void, repeats: number): Promise<number> {
  run();
  await ctx.readF32(probe, 0, 1); // warm-up and pipeline compilation
  const t0 = performance.now();
  for (let i = 0; i < repeats; i++) run();
  await ctx.readF32(probe, 0, 1);
  return (performance.now() - t0) / repeats;
}
const probe = ctx.createBuffer(16, 'probe');

console.log('| kernel | shape | ms | GFLOP/s |');
console.log('| --- | --- | --- | --- |');
for (const [M, K, N] of [[1, 1024, 1024], [4, 1024, 1024], [64, 512, 512], [256, 512, 1024]] as const) {
  const x = ctx.upload(new Float32Array(M * K).fill(0.01), 'x');
  const w = ctx.upload(new Float32Array(N * K).fill(0.01), 'w');
  const y = ctx.createBuffer(M * N * 4, 'y');
  const weight = { outFeatures: N, inFeatures: K, chunks: [{ tensor: tensor(w, [N, K]), firstRow: 0 }] };
  const ms = await time(ctx, () => linear(ctx, tensor(x, [M, K]), weight, tensor(y, [M, N])), 5);
  console.log(`| ${M <= 4 ? 'matvec' : 'matmul'} | ${M}×${K} · (${N}×${K})ᵀ | ${ms.toFixed(2)} | ${((2 * M * K * N) / ms / 1e6).toFixed(2)} |`);
}
for (const [T, S, H, D] of [[1, 512, 8, 64], [128, 128, 8, 64]] as const) {
  const dims = { batch: 1, rows: T, numHeads: H, kvGroups: H, headDim: D, capacity: S };
  const q = ctx.upload(new Float32Array(H * T * D).fill(0.01), 'q');
  const k = ctx.upload(new Float32Array(H * S * D).fill(0.01), 'k');
  const v = ctx.upload(new Float32Array(H * S * D).fill(0.01), 'v');
  const seq = ctx.upload(new Uint32Array([S - T, T, 0, 0]), 'seq');
  const out = ctx.createBuffer(T * H * D * 4, 'out');
  const ms = await time(ctx, () => glmAttention(ctx, dims, {
    q: tensor(q, [1, H, T, D]), kCache: tensor(k, [1, H, S, D]), vCache: tensor(v, [1, H, S, D]), seq: tensor(seq, [1, 4]), out: tensor(out, [T, H * D]),
  }), 3);
  const flops = 4 * T * S * H * D;
  console.log(`| glm_attention | T=${T} over ${S} keys, H=${H}, D=${D} | ${ms.toFixed(2)} | ${(flops / ms / 1e6).toFixed(2)} |`);
}
ctx.destroy();
process.exit(0);
