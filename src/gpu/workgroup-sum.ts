// WGSL for the sum of one value per invocation over a whole workgroup: the
// reduction of the one-workgroup-per-row kernels (layernorm, rmsnorm and their
// backward `rows` passes). A shader that includes it declares
//   override WG: u32;   // its 1-D workgroup size, @workgroup_size(WG)
// and calls, from every invocation of the workgroup in workgroup-uniform control
// flow, with lidx = @builtin(local_invocation_index):
//   workgroupSum(lidx, value: f32) -> f32
//   workgroupSum2(lidx, value: vec2<f32>) -> vec2<f32>
// Every invocation gets the total. Three implementations (RowReduction):
// - 'subgroups' (WG = 256, devices with the `subgroups` feature): subgroupAdd within
//   each subgroup; the first active invocation of each subgroup leaves the total in
//   a workgroup-memory slot (the others leave 0); one barrier; each subgroup adds
//   all WG slots back up with subgroupAdd. Nothing is assumed about the subgroup
//   size (4 SwiftShader, 8-32 Intel, 32 NVIDIA, 32/64 AMD; 1 would work), about
//   which invocations share a subgroup, or that subgroups are full: a lane's rank
//   and the subgroup's width come from subgroupExclusiveAdd(1) / subgroupAdd(1).
//   The slots are double-buffered, so back-to-back calls need no second barrier.
// - 'tree' (WG = 256, no subgroups): a two-level tree in workgroup memory,
//   WG → ceil(WG/16) → 1, two barriers per call (a binary tree takes log2(WG) + 1).
// - 'one-subgroup' (CPU adapters such as SwiftShader, with a fixed subgroup size):
//   the workgroup is a single subgroup, WG = that size, and the sum is one
//   subgroupAdd: no workgroup memory, no barrier. A CPU adapter runs the
//   invocations of a workgroup that synchronises as fibers, and pays for every
//   barrier (and for the barrier of workgroup-memory zero-initialisation) with a
//   context switch per subgroup (bench/profile.bench.ts: the layernorm and
//   layernorm_backward rows kernels of an SFT step run over 100× faster this way on
//   SwiftShader). GPUs keep 256 threads per row, which hides memory latency far
//   better than a subgroup per row when N is only hundreds.
// Each sums in a fixed order on a given device: results are deterministic run to run.

import type { GpuContext } from './context.ts';
import { defineKernel, type BindingSpec, type KernelSpec, type UniformField } from './kernel.ts';

/** How a one-workgroup-per-row kernel adds up its row (see the file comment). */
export type RowReduction = 'subgroups' | 'tree' | 'one-subgroup';

export const ROW_REDUCTIONS: readonly RowReduction[] = ['subgroups', 'tree', 'one-subgroup'];

/** Threads per row on GPUs (the shaders' WG for 'subgroups' and 'tree'). */
export const ROW_WORKGROUP = 256;

/** The fixed subgroup size of the adapter, or null when it is unknown or varies. */
function fixedSubgroupSize(ctx: GpuContext): number | null {
  const { subgroupMinSize, subgroupMaxSize } = ctx.adapter.info;
  if (subgroupMinSize === undefined || subgroupMinSize !== subgroupMaxSize || subgroupMinSize < 1) return null;
  return subgroupMinSize;
}

/** The reduction the row kernels use on this context's device. */
export function defaultRowReduction(ctx: GpuContext): RowReduction {
  if (!ctx.features.subgroups) return 'tree';
  if (ctx.cpuAdapter && fixedSubgroupSize(ctx) !== null) return 'one-subgroup';
  return 'subgroups';
}

/** The reductions this context's device can run. */
export function supportedRowReductions(ctx: GpuContext): RowReduction[] {
  if (!ctx.features.subgroups) return ['tree'];
  return fixedSubgroupSize(ctx) === null ? ['subgroups', 'tree'] : ['subgroups', 'tree', 'one-subgroup'];
}

/** The row kernels' workgroup size (their WG override) for `reduction` on this device; throws if it cannot run here. */
export function rowWorkgroupSize(ctx: GpuContext, reduction: RowReduction): number {
  if (reduction !== 'tree' && !ctx.features.subgroups) {
    throw new Error(`row reduction '${reduction}' needs the subgroups feature, which this device lacks`);
  }
  if (reduction !== 'one-subgroup') return ROW_WORKGROUP;
  const size = fixedSubgroupSize(ctx);
  if (size === null) throw new Error("row reduction 'one-subgroup' needs a fixed subgroup size (adapter subgroupMinSize = subgroupMaxSize)");
  return size;
}

interface SumFunction {
  name: string;
  type: string;
}

const SUM_FUNCTIONS: readonly SumFunction[] = [
  { name: 'workgroupSum', type: 'f32' },
  { name: 'workgroupSum2', type: 'vec2<f32>' },
];

function oneSubgroupSum({ name, type }: SumFunction): string {
  return `
fn ${name}(lidx: u32, value: ${type}) -> ${type} { return subgroupAdd(value); }
`;
}

function subgroupsSum({ name, type }: SumFunction): string {
  return `
// ${name}: subgroup totals through WG slots, one barrier (slots double-buffered by ${name}Parity).
var<workgroup> ${name}Slots: array<${type}, 2u * WG>;
var<private> ${name}Parity: u32 = 0u;

fn ${name}(lidx: u32, value: ${type}) -> ${type} {
  let base = ${name}Parity * WG;
  ${name}Parity = 1u - ${name}Parity;
  let subgroupTotal = subgroupAdd(value);
  let rank = subgroupExclusiveAdd(1u); // 0 .. width-1 over the subgroup's active invocations
  let width = subgroupAdd(1u);
  ${name}Slots[base + lidx] = select(${type}(0.0), subgroupTotal, rank == 0u);
  workgroupBarrier();
  // The slots of this parity are rewritten two calls from now, after the next call's
  // barrier, which every invocation reaches only once done reading here.
  var sum = ${type}(0.0);
  for (var slot = rank; slot < WG; slot += width) { sum += ${name}Slots[base + slot]; }
  return subgroupAdd(sum);
}
`;
}

function treeSum({ name, type }: SumFunction): string {
  return `
// ${name}: two-level tree (WG → SUM_GROUPS → 1), two barriers.
var<workgroup> ${name}Level1: array<${type}, WG>;
var<workgroup> ${name}Level2: array<${type}, SUM_GROUPS>;

fn ${name}(lidx: u32, value: ${type}) -> ${type} {
  ${name}Level1[lidx] = value;
  workgroupBarrier();
  if (lidx < SUM_GROUPS) {
    var sum = ${type}(0.0);
    for (var slot = lidx; slot < WG; slot += SUM_GROUPS) { sum += ${name}Level1[slot]; }
    ${name}Level2[lidx] = sum;
  }
  // Level1 is rewritten by the next call only after this barrier, when every read of it is
  // done; Level2 only after the next call's first barrier, when every read below is done.
  workgroupBarrier();
  var total = ${type}(0.0);
  for (var group = 0u; group < SUM_GROUPS; group++) { total += ${name}Level2[group]; }
  return total;
}
`;
}

/** The WGSL of workgroupSum / workgroupSum2 for `reduction` (module-scope declarations, without `enable`). */
export function workgroupSumWgsl(reduction: RowReduction): string {
  const header = `\n// ---- workgroupSum / workgroupSum2, '${reduction}' (src/gpu/workgroup-sum.ts) ----\n`;
  switch (reduction) {
    case 'one-subgroup':
      return header + SUM_FUNCTIONS.map(oneSubgroupSum).join('');
    case 'subgroups':
      return header + SUM_FUNCTIONS.map(subgroupsSum).join('');
    case 'tree':
      return header + 'const SUM_FAN: u32 = 16u;\noverride SUM_GROUPS: u32 = (WG + SUM_FAN - 1u) / SUM_FAN;\n' + SUM_FUNCTIONS.map(treeSum).join('');
  }
}

/** `source` (a shader that calls workgroupSum / workgroupSum2) completed for `reduction`. */
export function withWorkgroupSum(source: string, reduction: RowReduction): string {
  const enable = reduction === 'tree' ? '' : 'enable subgroups;\n';
  return enable + source + workgroupSumWgsl(reduction);
}

/** A row kernel in each of its reductions: one KernelSpec per RowReduction, named `${name}[${reduction}]`. */
export type RowKernels = Readonly<Record<RowReduction, KernelSpec>>;

export function defineRowKernels(
  name: string,
  source: string,
  bindings: readonly BindingSpec[],
  uniforms: readonly UniformField[],
  entryPoint?: string,
): RowKernels {
  const spec = (reduction: RowReduction): KernelSpec =>
    defineKernel(`${name}[${reduction}]`, withWorkgroupSum(source, reduction), bindings, uniforms, entryPoint);
  return { subgroups: spec('subgroups'), tree: spec('tree'), 'one-subgroup': spec('one-subgroup') };
}

/** The spec and WG override for dispatching one of `kernels` on ctx (default: the device's reduction). */
export function rowKernel(ctx: GpuContext, kernels: RowKernels, reduction: RowReduction = defaultRowReduction(ctx)): { spec: KernelSpec; constants: { WG: number } } {
  return { spec: kernels[reduction], constants: { WG: rowWorkgroupSize(ctx, reduction) } };
}
