// Prints how far our GLM forward (WGSL, through the real checkpoint path) is from PyTorch's
// golden hidden states, per family and step: the numbers in the README's results table.
//   node --import ./bin/register.mjs bench/parity.bench.ts
import { loadCheckpoint } from '../src/io/checkpoint.ts';
import { memorySource } from '../src/io/source.ts';
import { checkpointFiles } from '../src/io/checkpoint.ts';
import { createNodeContext } from '../src/gpu/node.ts';
import { GlmModel } from '../src/model/model.ts';
import { GlmSession } from '../src/model/session.ts';
import { readGlm2Fixture, readGlmFixture } from '../test/helpers/fixtures.ts';

const ctx = await createNodeContext();
console.log(`device: ${ctx.adapterDescription}`);
console.log('| model | step | ids | max abs diff vs PyTorch |');
console.log('| --- | --- | --- | --- |');
for (const [label, fixture] of [['ChatGLM-6B (v1)', readGlmFixture()], ['ChatGLM2/3 (v2)', readGlm2Fixture()]] as const) {
  const tensors = [...fixture.tensors];
  if (fixture.config.family === 'glm2') {
    tensors.push({ name: 'transformer.output_layer.weight', shape: [fixture.config.vocabSize, fixture.config.hiddenSize], data: new Float32Array(fixture.config.vocabSize * fixture.config.hiddenSize) });
  }
  const model = await GlmModel.load(ctx, await loadCheckpoint(memorySource(checkpointFiles(fixture.config, tensors))));
  const session = new GlmSession(model, { batch: 1, capacity: 8 });
  for (const [i, step] of fixture.steps.entries()) {
    const result = i === 0 ? session.prefill([step.ids]) : session.extend([step.ids]);
    const rows = (await session.readHidden(result))[0]!;
    let maxDiff = 0;
    rows.forEach((row, r) => row.forEach((v, c) => { maxDiff = Math.max(maxDiff, Math.abs(v - step.hidden[r * fixture.config.hiddenSize + c]!)); }));
    console.log(`| ${label} | ${i === 0 ? 'prompt' : `cached step ${i}`} | ${step.ids.join(',')} | ${maxDiff.toExponential(2)} |`);
  }
  session.destroy();
  model.destroy();
}
ctx.destroy();
process.exit(0);
