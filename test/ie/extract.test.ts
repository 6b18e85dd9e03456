// extract() on a model whose (padded) vocabulary is larger than its tokenizer's, as real
// ChatGLM2/3 checkpoints are (65024 logits, 64798 tokens): the constraint's mask covers every
// logit and padding ids are never chosen.
import { describe, expect, it } from 'vitest';
import { extract, type ExtractRun } from '../../src/ie/extract.ts';
import { checkpointFiles, loadCheckpoint } from '../../src/io/checkpoint.ts';
import { memorySource } from '../../src/io/source.ts';
import { loadHfTokenizer } from '../../src/io/tokenizer.ts';
import { parseGlmConfig } from '../../src/model/config.ts';
import { GlmModel } from '../../src/model/model.ts';
import { testContext } from '../helpers/gpu.ts';
import { TINY_GLM2_CONFIG, tinyTensors } from '../helpers/tiny-model.ts';
import { buildByteLevelTokenizerJson } from './fixtures/tokenizers.ts';
import { PROMPT_TAGS_CONFIG_KEY } from '../../src/ie/prompt-tags.ts';
import { bestWordStart, mentionEndScore, mentionPiece, openingMentionType, openMention, promptTagScorers } from '../../src/ie/tag-bias.ts';
import { answerListScan, entityStartEvidence, feedAnswerList, skipPotential } from '../../src/ie/tag-list-bias.ts';
import { NO_TAG_SCALES } from '../../src/ie/tag-label.ts';
import { budgetReserve } from '../../src/ie/extract.ts';
import { withTokenBudget } from '../../src/ie/budget.ts';
import { buildConstraintVocabulary, createAnswerConstraint } from '../../src/ie/constraint.ts';
import { decodeAnswerIds } from '../../src/ie/prompt.ts';
import { promptIdsFor } from '../../src/ie/task-data.ts';
import { modelTensorNames } from '../../src/model/names.ts';
import { trainingStep } from '../../src/model/positions.ts';
import { glmHiddenRef } from '../../src/reference/glm.ts';

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

  it('tag-guided decoding: the prompt tags\' scores are the model\'s, and a strong bias opens each mention at the best-tagged word', async () => {
    const texts = ['Ada Lovelace met Charles Babbage in London .', 'Babbage lived in London .'];
    const words = [...new Set([...texts.join(' ').split(' '), 'person', 'location'])];
    const { json } = buildByteLevelTokenizerJson(words.flatMap((w) => [w, ` ${w}`]));
    const tokenizer = loadHfTokenizer(json);
    const V = tokenizer.vocabSize;
    // Tags on the last ordinary ids: O, I, B-person, B-location.
    const tags = { outside: V - 1, inside: V - 2, begin: { person: V - 3, location: V - 4 } };
    const raw = { ...TINY_GLM2_CONFIG, padded_vocab_size: V, seq_length: 512, [PROMPT_TAGS_CONFIG_KEY]: tags };
    const config = parseGlmConfig(raw);
    const tensors = tinyTensors(config, 1, 1.0); // a seed whose answers name mentions
    const model = await GlmModel.load(await testContext(), await loadCheckpoint(memorySource(checkpointFiles(config, tensors))));
    const schema = { entityTypes: ['person', 'location'], relationTypes: [], eventTypes: [] };
    const extractor = { model, tokenizer, family: 'glm4-chat' as const };
    const tagIds = [tags.outside, tags.inside, tags.begin.person, tags.begin.location];

    // The scores: log-softmax over the tag tokens of the LM head at the prompt row holding each character (CPU reference forward).
    const prompt = promptIdsFor({ tokenizer, family: 'glm4-chat', schema, task: 'ner', style: 'full' }, texts[0]!);
    const [scorer] = await promptTagScorers(model, null, tokenizer, [prompt], [texts[0]!], tagIds);
    const hidden = glmHiddenRef(config, (name) => Float64Array.from(tensors.find((t) => t.name === name)!.data), trainingStep(config.family, [{ prompt, answer: [0] }]));
    const head = tensors.find((t) => t.name === modelTensorNames(config).lmHead)!.data;
    const C = config.hiddenSize;
    const decodedPrompt = tokenizer.decode(prompt, { skipSpecialTokens: true });
    const textAt = decodedPrompt.lastIndexOf(texts[0]!);
    for (const char of [0, 4, 17, 35]) {
      // The row holding the character: the last prompt token whose decoded prefix starts at or before it.
      let row = 0;
      while (row + 1 < prompt.length && tokenizer.decode(prompt.slice(0, row + 1), { skipSpecialTokens: true }).length <= textAt + char) row++;
      const logits = tagIds.map((id) => { let v = 0; for (let c = 0; c < C; c++) v += hidden[row * C + c]! * head[id * C + c]!; return v; });
      const lse = Math.log(logits.reduce((sum, v) => sum + Math.exp(v), 0));
      tagIds.forEach((tag, k) => expect(scorer!.logProb(char, tag)).toBeCloseTo(logits[k]! - lse, 4));
    }

    // Off (0) is plain decoding; strong, every mention's first token is an allowed token whose word start scores best.
    const options = { constrained: true, maxNewTokens: 40, batchSize: 2 };
    const plain = await extract(extractor, schema, texts, options);
    expect((await extract(extractor, schema, texts, { ...options, tagBias: 0 })).results.map((r) => r.ids)).toEqual(plain.results.map((r) => r.ids));
    const biased = await extract(extractor, schema, texts, { ...options, tagBias: 1000 });
    expect(biased.results.map((r) => r.ids)).not.toEqual(plain.results.map((r) => r.ids));
    const scorers = await promptTagScorers(model, null, tokenizer, texts.map((text) => promptIdsFor({ tokenizer, family: 'glm4-chat', schema, task: 'ner', style: 'full' }, text)), texts, tagIds);
    // Replay each answer through extract()'s constraint: at each step, `check` gets the answer so far,
    // the chosen token and the best of `score` over the tokens the constraint allowed there.
    const vocab = buildConstraintVocabulary(tokenizer, 'glm4-chat', V);
    const replay = (run: ExtractRun, score: (i: number, answerSoFar: string, t: number) => number | null): { chosen: number; best: number }[] => {
      const steps: { chosen: number; best: number }[] = [];
      run.results.forEach((result, i) => {
        const constraint = withTokenBudget(createAnswerConstraint(vocab, schema, result.text, 'ner', { mentionBoundaries: 'words' }), vocab, options.maxNewTokens, budgetReserve(schema));
        result.ids.forEach((id, k) => {
          const answerSoFar = k > 0 ? decodeAnswerIds(tokenizer, 'glm4-chat', result.ids.slice(0, k)) : '';
          const allowed = constraint.allowed();
          const chosen = k > 0 ? score(i, answerSoFar, id) : null;
          if (chosen !== null) {
            let best = -Infinity;
            for (let t = 0; t < V; t++) if (((allowed[t >> 5]! >>> (t & 31)) & 1) === 1) best = Math.max(best, score(i, answerSoFar, t)!);
            steps.push({ chosen, best });
          }
          constraint.advance(id);
        });
      });
      return steps;
    };
    // At every step that opens a mention, the chosen token's tag score is the best allowed.
    const openings = replay(biased, (i, answerSoFar, t) => {
      const type = openingMentionType(answerSoFar, schema.entityTypes);
      const begin = type === 'person' ? tags.begin.person : tags.begin.location;
      return type === null ? null : bestWordStart(texts[i]!, mentionPiece(tokenizer, t), (p) => scorers[i]!.logProb(p, begin));
    });
    expect(openings.length).toBeGreaterThan(0);
    for (const { chosen, best } of openings) expect(chosen).toBeCloseTo(best, 4);

    // λ_end alone: at every step inside a mention, the chosen token's end score (0 where the tags do not tell) is the best allowed.
    const ended = await extract(extractor, schema, texts, { ...options, tagBias: 0, tagEndBias: 1000 });
    expect(ended.tagBias).toEqual({ lambda: 0, endLambda: 1000, listLambda: 0, skipLambda: 0, off: null });
    const insides = replay(ended, (i, answerSoFar, t) => {
      const open = openMention(answerSoFar, schema.entityTypes);
      return open === null || open.prefix === '' ? null : mentionEndScore(texts[i]!, open.prefix, tokenizer.decode([t]), scorers[i]!, tags.inside) ?? 0;
    });
    expect(insides.length).toBeGreaterThan(0);
    for (const { chosen, best } of insides) expect(chosen).toBeGreaterThan(best - 0.02); // ties go to the model's logits (1 logit = 0.001 here)

    // λ_list alone: at every step before the answer is past its entity lists, the chosen token's change of the committed list decisions is the best allowed.
    const listed = await extract(extractor, schema, texts, { ...options, tagListBias: 1000 });
    expect(listed.tagBias).toEqual({ lambda: 0, endLambda: 0, listLambda: 1000, skipLambda: 0, off: null });
    const evidence = texts.map((text, i) => entityStartEvidence(text, schema.entityTypes, [tags.begin.person, tags.begin.location], scorers[i]!));
    const decisions = replay(listed, (i, answerSoFar, t) => {
      const scan = answerListScan(evidence[i]!, answerSoFar);
      return scan.phase === 'done' ? null : feedAnswerList(evidence[i]!, scan, tokenizer.decode([t])).committed - scan.committed;
    });
    expect(decisions.some(({ chosen }) => chosen !== 0)).toBe(true); // some steps decide something
    for (const { chosen, best } of decisions) expect(chosen).toBeGreaterThan(best - 0.02);

    // λ_skip alone: at every step before the answer is past its entity lists, the chosen token's change of the cost of the types passed over (a key written in part at its best completion) is the best allowed.
    const skipping = await extract(extractor, schema, texts, { ...options, tagSkipBias: 1000 });
    expect(skipping.tagBias).toEqual({ ...NO_TAG_SCALES, skipLambda: 1000, off: null });
    const skips = replay(skipping, (i, answerSoFar, t) => {
      const scan = answerListScan(evidence[i]!, answerSoFar);
      return scan.phase === 'done' ? null : skipPotential(evidence[i]!, feedAnswerList(evidence[i]!, scan, tokenizer.decode([t]))) - skipPotential(evidence[i]!, scan);
    });
    expect(skips.length).toBeGreaterThan(0);
    for (const { chosen, best } of skips) expect(chosen).toBeGreaterThan(best - 0.02);

    // 'model': the λ the model's config recommends (decodingBias), off — saying why — where it does not apply.
    expect((await extract(extractor, schema, texts, { ...options, tagBias: 'model' })).tagBias).toEqual({ ...NO_TAG_SCALES, off: null });
    const recommendingOf = async (recommends: object) => GlmModel.load(await testContext(), await loadCheckpoint(memorySource(checkpointFiles(parseGlmConfig({ ...raw, [PROMPT_TAGS_CONFIG_KEY]: { ...tags, ...recommends } }), tensors))));
    const recommending = await recommendingOf({ decodingBias: 1000 });
    const recommended = await extract({ ...extractor, model: recommending }, schema, texts, { ...options, tagBias: 'model' });
    expect(recommended.tagBias).toEqual({ ...NO_TAG_SCALES, lambda: 1000, off: null });
    expect(recommended.results.map((r) => r.ids)).toEqual(biased.results.map((r) => r.ids));
    const untaggedType = await extract({ ...extractor, model: recommending }, { ...schema, entityTypes: ['person', 'organization'] }, texts, { ...options, tagBias: 'model' });
    expect(untaggedType.tagBias).toEqual({ ...NO_TAG_SCALES, off: "the model's tag-guided decoding (λ 1000) is off: entity type organization of the schema has no prompt tag (the model tags person, location)" });
    expect((await extract({ ...extractor, model: recommending }, schema, texts, { ...options, tagBias: 'model', beams: 2 })).tagBias.off).toMatch(/not beam search/);
    recommending.destroy();
    // A recommended λ_end is used with 'model' as the same λ_end given explicitly.
    const recommendingEnd = await recommendingOf({ decodingEndBias: 1000 });
    const recommendedEnd = await extract({ ...extractor, model: recommendingEnd }, schema, texts, { ...options, tagBias: 'model' });
    expect(recommendedEnd.tagBias).toEqual({ lambda: 0, endLambda: 1000, listLambda: 0, skipLambda: 0, off: null });
    expect(recommendedEnd.results.map((r) => r.ids)).toEqual(ended.results.map((r) => r.ids));
    expect((await extract({ ...extractor, model: recommendingEnd }, schema, texts, { ...options, constrained: false, maxNewTokens: 2, tagBias: 'model' })).tagBias.off)
      .toBe("the model's tag-guided decoding (λ_end 1000) is off: it guides constrained decoding only");
    recommendingEnd.destroy();
    const recommendingList = await recommendingOf({ decodingListBias: 1000 });
    const recommendedList = await extract({ ...extractor, model: recommendingList }, schema, texts, { ...options, tagBias: 'model' });
    expect(recommendedList.tagBias).toEqual({ lambda: 0, endLambda: 0, listLambda: 1000, skipLambda: 0, off: null });
    expect(recommendedList.results.map((r) => r.ids)).toEqual(listed.results.map((r) => r.ids));
    recommendingList.destroy();
    const recommendingSkip = await recommendingOf({ decodingSkipBias: 1000 });
    const recommendedSkip = await extract({ ...extractor, model: recommendingSkip }, schema, texts, { ...options, tagBias: 'model' });
    expect(recommendedSkip.tagBias).toEqual({ ...NO_TAG_SCALES, skipLambda: 1000, off: null });
    expect(recommendedSkip.results.map((r) => r.ids)).toEqual(skipping.results.map((r) => r.ids));
    recommendingSkip.destroy();

    await expect(extract(extractor, schema, texts, { ...options, tagBias: 1, beams: 2 })).rejects.toThrow('tag bias (λ 1): it works with greedy or sampled decoding, not beam search');
    await expect(extract(extractor, { ...schema, entityTypes: ['person', 'organization'] }, texts, { ...options, tagBias: 1 })).rejects.toThrow(/entity type organization of the schema has no prompt tag/);
    await expect(extract(extractor, schema, texts, { ...options, tagBias: 1, tagEndBias: -1 })).rejects.toThrow('tag bias: λ_end -1 must be a number ≥ 0');
    await expect(extract(extractor, schema, texts, { ...options, tagListBias: Number.NaN })).rejects.toThrow('tag bias: λ_list NaN must be a number ≥ 0');
    await expect(extract(extractor, schema, texts, { ...options, tagSkipBias: -2 })).rejects.toThrow('tag bias: λ_skip -2 must be a number ≥ 0');
    model.destroy();
    const untagged = await GlmModel.load(await testContext(), await loadCheckpoint(memorySource(checkpointFiles(parseGlmConfig({ ...raw, [PROMPT_TAGS_CONFIG_KEY]: undefined }), tensors))));
    await expect(extract({ ...extractor, model: untagged }, schema, texts, { ...options, tagBias: 1 })).rejects.toThrow(/records no prompt tags \(chatuie_prompt_tags in config.json\)/);
    await expect(extract({ ...extractor, model: untagged }, schema, texts, { ...options, tagEndBias: 1 })).rejects.toThrow(/^tag bias \(λ_end 1\): this model records no prompt tags/);
    await expect(extract({ ...extractor, model: untagged }, schema, texts, { ...options, tagListBias: 2 })).rejects.toThrow(/^tag bias \(λ_list 2\): this model records no prompt tags/);
    untagged.destroy();
  });
});
