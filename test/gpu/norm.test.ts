import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { layerNorm, rmsNorm } from '../../src/gpu/kernels/norm.ts';
import { tensor } from '../../src/gpu/tensor.ts';
import { defaultRowReduction, ROW_REDUCTIONS, rowWorkgroupSize, supportedRowReductions } from '../../src/gpu/workgroup-sum.ts';
import { layerNormRef, rmsNormRef } from '../../src/reference/norm.ts';
import { expectClose, FORWARD_TOL } from '../helpers/compare.ts';
import { testContext } from '../helpers/gpu.ts';
import { Rng } from '../helpers/random.ts';
import { SENTINEL, placed, readOutput, withWorkgroupLimit } from '../helpers/placed.ts';
import type { GpuContext } from '../../src/gpu/context.ts';

const FIXTURES = path.resolve(import.meta.dirname, '../../../shared/fixtures/glm');
const EPS = 1e-5;

function readFixture(name: string, counts: number[]): Float32Array[] {
  const bytes = readFileSync(path.join(FIXTURES, name));
  const values = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
  expect(values.length).toBe(counts.reduce((a, b) => a + b, 0));
  let start = 0;
  return counts.map((count) => values.slice(start, (start += count)));
}

// Row lengths straddle the 256-thread stride (C=1 leaves 255 threads idle; 257 gives one thread two elements)
// and the 4-wide subgroup of SwiftShader ('one-subgroup': C=37 leaves one lane an extra element); 71 rows is prime.
const channels = [1, 7, 37, 257, 300, 1000];
const rowCounts = [1, 3, 71];

/** The same context without the subgroups feature: what a device lacking it sees (only the 'tree' reduction). */
function withoutSubgroups(ctx: GpuContext): GpuContext {
  return Object.create(ctx, { features: { value: { ...ctx.features, subgroups: false } } }) as GpuContext;
}

describe('row reductions (src/gpu/workgroup-sum.ts)', () => {
  it('picks one per device and refuses what the device cannot run', async () => {
    const ctx = await testContext();
    const supported = supportedRowReductions(ctx);
    expect(supported).toContain(defaultRowReduction(ctx));
    expect(rowWorkgroupSize(ctx, 'tree')).toBe(256);
    if (ctx.features.subgroups) expect(rowWorkgroupSize(ctx, 'subgroups')).toBe(256);
    if (ctx.adapter.info.isFallbackAdapter && supported.includes('one-subgroup')) {
      // A CPU adapter (SwiftShader) runs a row per subgroup, with no barrier.
      expect(defaultRowReduction(ctx)).toBe('one-subgroup');
      expect(rowWorkgroupSize(ctx, 'one-subgroup')).toBe(ctx.adapter.info.subgroupMinSize);
    }
    const plain = withoutSubgroups(ctx);
    expect(defaultRowReduction(plain)).toBe('tree');
    expect(supportedRowReductions(plain)).toEqual(['tree']);
    expect(() => rowWorkgroupSize(plain, 'subgroups')).toThrow(/needs the subgroups feature/);
    expect(() => layerNorm(plain, tensor(ctx.createBuffer(64, 'x'), [2, 2]), tensor(ctx.createBuffer(16, 'w'), [2]),
      tensor(ctx.createBuffer(16, 'b'), [2]), tensor(ctx.createBuffer(64, 'y'), [2, 2]), EPS, { reduction: 'one-subgroup' })).toThrow(
      /needs the subgroups feature/,
    );
  });

  it('a device without subgroups runs the tree reduction', async () => {
    const ctx = withoutSubgroups(await testContext());
    const [N, C] = [5, 300];
    const rng = new Rng(3);
    const x = rng.array(N * C, 2).map((value) => value + 10);
    const weight = rng.array(C);
    const bias = rng.array(C);
    const yLayer = placed(ctx, new Float32Array(N * C), [N, C], 1, SENTINEL);
    const yRms = placed(ctx, new Float32Array(N * C), [N, C], 2, SENTINEL);
    await ctx.withErrorScope(() => {
      layerNorm(ctx, placed(ctx, x, [N, C], 3), placed(ctx, weight, [C], 0), placed(ctx, bias, [C], 0), yLayer, EPS);
      rmsNorm(ctx, placed(ctx, x, [N, C], 3), placed(ctx, weight, [C], 0), yRms, EPS);
    });
    expectClose(await readOutput(ctx, yLayer, N * C), layerNormRef(x, weight, bias, N, C, EPS), FORWARD_TOL);
    expectClose(await readOutput(ctx, yRms, N * C), rmsNormRef(x, weight, N, C, EPS), FORWARD_TOL);
  });
});

describe.each(ROW_REDUCTIONS)('layerNorm (layernorm.wgsl), %s reduction', (reduction) => {
  for (const C of channels) {
    for (const N of rowCounts) {
      it(`N=${N} C=${C}`, async ({ skip }) => {
        const ctx = await testContext();
        if (!supportedRowReductions(ctx).includes(reduction)) skip(`this device cannot run the ${reduction} reduction`);
        const rng = new Rng(N * 7919 + C);
        // A mean far from zero checks the two-pass variance (E[x²]-E[x]² would cancel).
        const x = rng.array(N * C, 2).map((value) => value + 10);
        const weight = rng.array(C);
        const bias = rng.array(C);
        const y = placed(ctx, new Float32Array(N * C), [N, C], 3, SENTINEL);
        await ctx.withErrorScope(() =>
          layerNorm(ctx, placed(ctx, x, [N, C], 5), placed(ctx, weight, [C], 1), placed(ctx, bias, [C], 2), y, EPS, { reduction }),
        );
        expectClose(await readOutput(ctx, y, N * C), layerNormRef(x, weight, bias, N, C, EPS), FORWARD_TOL);
      });
    }
  }
});

describe('layerNorm (layernorm.wgsl)', () => {

  it('matches PyTorch on layer_norm.data', async () => {
    const ctx = await testContext();
    const [weight, bias, x, yTorch] = readFixture('layer_norm.data', [64, 64, 3 * 64, 3 * 64]) as [Float32Array, Float32Array, Float32Array, Float32Array];
    const y = placed(ctx, new Float32Array(3 * 64), [3, 64], 0, SENTINEL);
    layerNorm(ctx, placed(ctx, x, [3, 64], 0), placed(ctx, weight, [64], 0), placed(ctx, bias, [64], 0), y, EPS);
    expectClose(await readOutput(ctx, y, 3 * 64), yTorch, FORWARD_TOL, 'layernorm vs PyTorch');
    expectClose(layerNormRef(x, weight, bias, 3, 64, EPS), yTorch, FORWARD_TOL, 'reference vs PyTorch');
  });

  it('rejects mismatched shapes', async () => {
    const ctx = await testContext();
    const buffer = ctx.createBuffer(64 * 4, 'buffer');
    const x = tensor(buffer, [2, 8]);
    expect(() => layerNorm(ctx, x, tensor(buffer, [7]), tensor(buffer, [8]), tensor(buffer, [2, 8]), EPS)).toThrow(
      /layerNorm weight has shape \[7\], expected \[8\]/,
    );
    expect(() => layerNorm(ctx, x, tensor(buffer, [8]), tensor(buffer, [8]), tensor(buffer, [16]), EPS)).toThrow(
      /layerNorm output has shape \[16\], expected \[2, 8\]/,
    );
    expect(() => layerNorm(ctx, tensor(buffer, [16]), tensor(buffer, [8]), tensor(buffer, [8]), x, EPS)).toThrow(
      /layerNorm input has shape \[16\], expected a matrix \[N, C\]/,
    );
  });
});

describe.each(ROW_REDUCTIONS)('rmsNorm (rmsnorm.wgsl), %s reduction', (reduction) => {
  for (const C of channels) {
    for (const N of rowCounts) {
      it(`N=${N} C=${C}`, async ({ skip }) => {
        const ctx = await testContext();
        if (!supportedRowReductions(ctx).includes(reduction)) skip(`this device cannot run the ${reduction} reduction`);
        const rng = new Rng(N * 104729 + C);
        const x = rng.array(N * C, 3);
        const weight = rng.array(C);
        const y = placed(ctx, new Float32Array(N * C), [N, C], 4, SENTINEL);
        await ctx.withErrorScope(() => rmsNorm(ctx, placed(ctx, x, [N, C], 9), placed(ctx, weight, [C], 2), y, EPS, { reduction }));
        expectClose(await readOutput(ctx, y, N * C), rmsNormRef(x, weight, N, C, EPS), FORWARD_TOL);
      });
    }
  }
});

describe('rmsNorm (rmsnorm.wgsl)', () => {

  it('matches PyTorch on rms_norm.data', async () => {
    const ctx = await testContext();
    const [weight, x, yTorch] = readFixture('rms_norm.data', [64, 3 * 64, 3 * 64]) as [Float32Array, Float32Array, Float32Array];
    const y = placed(ctx, new Float32Array(3 * 64), [3, 64], 0, SENTINEL);
    rmsNorm(ctx, placed(ctx, x, [3, 64], 0), placed(ctx, weight, [64], 0), y, EPS);
    expectClose(await readOutput(ctx, y, 3 * 64), yTorch, FORWARD_TOL, 'rmsnorm vs PyTorch');
    expectClose(rmsNormRef(x, weight, 3, 64, EPS), yTorch, FORWARD_TOL, 'reference vs PyTorch');
  });

  it('more rows than one grid dimension holds (folded 2-D grid)', async () => {
    const ctx = withWorkgroupLimit(await testContext(), 16);
    const [N, C] = [70, 33]; // a 14×5 grid: every workgroup has a row
    const rng = new Rng(5);
    const x = rng.array(N * C, 3);
    const weight = rng.array(C);
    const bias = rng.array(C);
    const yLayer = placed(ctx, new Float32Array(N * C), [N, C], 1, SENTINEL);
    const yRms = placed(ctx, new Float32Array(N * C), [N, C], 2, SENTINEL);
    await ctx.withErrorScope(() => {
      layerNorm(ctx, placed(ctx, x, [N, C], 3), placed(ctx, weight, [C], 0), placed(ctx, bias, [C], 0), yLayer, EPS);
      rmsNorm(ctx, placed(ctx, x, [N, C], 3), placed(ctx, weight, [C], 0), yRms, EPS);
    });
    expectClose(await readOutput(ctx, yLayer, N * C), layerNormRef(x, weight, bias, N, C, EPS), FORWARD_TOL);
    expectClose(await readOutput(ctx, yRms, N * C), rmsNormRef(x, weight, N, C, EPS), FORWARD_TOL);
  });

  it('more rows than the grid holds, with a row count that leaves the last grid row partial', async () => {
    const ctx = withWorkgroupLimit(await testContext(), 9);
    const [N, C] = [67, 7]; // a 9×8 grid: 5 workgroups past the last row
    const rng = new Rng(6);
    const x = rng.array(N * C, 3);
    const weight = rng.array(C);
    const y = placed(ctx, new Float32Array(N * C), [N, C], 2, SENTINEL);
    await ctx.withErrorScope(() => rmsNorm(ctx, placed(ctx, x, [N, C], 3), placed(ctx, weight, [C], 0), y, EPS));
    expectClose(await readOutput(ctx, y, N * C), rmsNormRef(x, weight, N, C, EPS), FORWARD_TOL);
  });

  it('rejects mismatched shapes', async () => {
    const ctx = await testContext();
    const buffer = ctx.createBuffer(64 * 4, 'buffer');
    expect(() => rmsNorm(ctx, tensor(buffer, [2, 8]), tensor(buffer, [8]), tensor(buffer, [8, 2]), EPS)).toThrow(
      /rmsNorm output has shape \[8, 2\], expected \[2, 8\]/,
    );
  });
});
