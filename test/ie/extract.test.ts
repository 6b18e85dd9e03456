// extract() on a model whose (padded) vocabulary is larger than its tokenizer's, as real
// ChatGLM2/3 checkpoints are (65024 logits, 64798 tokens): the constraint's mask covers every
// logit and padding ids are never chosen.
import { describe, expect, it } from 'vitest';
import { extract } from '../../src/ie/extract.ts';
import { checkpointFiles, loadCheckpoint } from '../../src/io/checkpoint.ts';
import { memorySource } from '../../src/io/source.ts';
import { loadHfTokenizer } from '../../src/io/tokenizer.ts';
import { parseGlmConfig } from '../../src/model/config.ts';
import { GlmModel } from '../../src/model/model.ts';
import { testContext } from '../helpers/gpu.ts';
import { TINY_GLM2_CONFIG, tinyTensors } from '../helpers/tiny-model.ts';
import { buildByteLevelTokenizerJson } from './fixtures/tokenizers.ts';

describe('extract', () => {
  it('works when the model has more logits than the tokenizer has tokens', async () => {
    const texts = ['Ada Lovelace met Charles Babbage in London .', 'Babbage lived in London .'];
    const words = [...new Set([...texts.join(' ').split(' '), 'person', 'location'])];
    const { json } = buildByteLevelTokenizerJson(words.flatMap((w) => [w, ` ${w}`]));
    const tokenizer = loadHfTokenizer(json);
    const config = parseGlmConfig({ ...TINY_GLM2_CONFIG, padded_vocab_size: tokenizer.vocabSize + 37, seq_length: 512 });
    const tensors = tinyTensors(config, 8, 1.0);
    const model = await GlmModel.load(await testContext(), await loadCheckpoint(memorySource(checkpointFiles(config, tensors))));
    const schema = { entityTypes: ['person', 'location'], relationTypes: [], eventTypes: [] };
    const run = await extract({ model, tokenizer, family: 'glm4-chat' }, schema, texts, { constrained: true, maxNewTokens: 40, batchSize: 2 });
    for (const result of run.results) {
      expect(result.ids.every((id) => id < tokenizer.vocabSize)).toBe(true);
      expect(result.finished).toBe(true);
      expect(result.parsed.ok).toBe(true);
    }
    // Unconstrained, padding ids may come out; they decode to nothing instead of failing.
    const free = await extract({ model, tokenizer, family: 'glm4-chat' }, schema, texts.slice(0, 1), { constrained: false, maxNewTokens: 4, batchSize: 1 });
    expect(typeof free.results[0]!.answerText).toBe('string');
    model.destroy();
  });
});
