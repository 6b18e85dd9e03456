// The demo-model pipeline end to end on the extra-small preset (SwiftShader): tokenizer →
// pretraining (stopped there) → resumed run that skips it → SFT → eval report → model card.
import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCheckpoint } from '../../src/io/checkpoint.ts';
import { f16BitsToF32, f32ToF16Bits } from '../../src/io/safetensors.ts';
import { directorySource } from '../../src/io/node-source.ts';
import { loadHfTokenizer } from '../../src/io/tokenizer.ts';
import { loadCheckpointTokenizer, promptFamilyOf } from '../../src/ie/task-data.ts';
import { promptStyleOf } from '../../src/ie/prompt.ts';
import { demoPreset, type DemoPreset } from '../../src/train/demo/config.ts';
import { EVAL_REPORT_FILE, initialTensors, runDemoPipeline, type EvalReport, type PipelineState } from '../../src/train/demo/pipeline.ts';
import { inductionCircuit } from '../../src/train/induction-init.ts';
import { promptTagVocabularyOf } from '../../src/ie/prompt-tags.ts';
import { mimeticAttention } from '../../src/train/mimetic-init.ts';
import { runLineage } from '../../src/train/demo/model-card.ts';
import { CALIBRATION_STEPS, stepsForBudget } from '../../src/train/demo/budget.ts';
import { sublayerOutputLrScaleOf } from '../../src/train/residual-balance.ts';
import { WORDS_SPLIT_PATTERN } from '../../src/io/bpe-trainer.ts';
import { testContext } from '../helpers/gpu.ts';
import { DATA_DIR } from '../ie/realdata.ts';

describe('demo-model pipeline (extra-small preset)', () => {
  it('trains from scratch, resumes after pretraining without redoing it, and writes a report and a model card', async () => {
    const ctx = await testContext();
    const outDir = mkdtempSync(path.join(tmpdir(), 'chatuie-demo-'));
    // Shipped in f16, as the device preset is: the eval stage scores the rounded weights. With the
    // balanced residual, as the GPU presets are: its scale goes from init to config.json to the card.
    const base = demoPreset('extra-small');
    // With words kept whole by the tokenizer and mimetic attention, as small-words is: both go to the card.
    const preset: DemoPreset = { ...base, model: { ...base.model, balancedResidual: 0.4, mimetic: { qk: 1, vo: 0.5 } }, weightsDtype: 'F16', tokenizerSplit: 'words' };
    const firstLog: string[] = [];
    const first = await runDemoPipeline({ ctx, preset, dataDir: DATA_DIR, outDir, resume: false, stopAfter: 'pretrain', log: (l) => firstLog.push(l) });
    expect(first.completed).toEqual(['tokenizer', 'pretrain']);

    // The tokenizer loads and has the ChatGLM-6B framing tokens.
    const tokenizer = loadHfTokenizer(readFileSync(path.join(outDir, 'tokenizer', 'tokenizer.json'), 'utf8'), readFileSync(path.join(outDir, 'tokenizer', 'tokenizer_config.json'), 'utf8'));
    expect(tokenizer.specialTokens.gmask).toBeDefined();
    expect(tokenizer.specialTokens.eop).toBe(tokenizer.specialTokens.eos);
    expect(readFileSync(path.join(outDir, 'tokenizer', 'tokenizer.json'), 'utf8')).toContain(JSON.stringify(WORDS_SPLIT_PATTERN));
    expect(firstLog.some((l) => l.startsWith('[tokenizer]') && l.includes('split words'))).toBe(true);
    expect(firstLog.some((l) => l.startsWith('[pretrain]') && l.includes('mimetic attention init (qk 1, vo 0.5)'))).toBe(true);
    // The pretraining checkpoint is a normal ChatGLM-6B folder.
    const pretrained = await loadCheckpoint(directorySource(path.join(outDir, 'pretrain')));
    expect(pretrained.config.family).toBe('glm');
    expect(pretrained.config.vocabSize).toBe(tokenizer.vocabSize);
    const pretrainWeights = path.join(outDir, 'pretrain', 'model.safetensors');
    const pretrainWritten = statSync(pretrainWeights).mtimeMs;

    // A second run without --resume refuses to overwrite the run.
    await expect(runDemoPipeline({ ctx, preset, dataDir: DATA_DIR, outDir, resume: false, log: () => {} })).rejects.toThrow(/--resume/);

    const log: string[] = [];
    const state: PipelineState = await runDemoPipeline({ ctx, preset, dataDir: DATA_DIR, outDir, resume: true, log: (l) => log.push(l) });
    expect(state.completed).toEqual(['tokenizer', 'pretrain', 'sft', 'eval', 'card']);
    expect(log).toContain('[tokenizer] done, skipped');
    expect(log).toContain('[pretrain] done, skipped');
    expect(log.some((l) => l.startsWith('[pretrain] step'))).toBe(false);
    expect(statSync(pretrainWeights).mtimeMs).toBe(pretrainWritten);

    // SFT: its checkpoint loads (with the tokenizer and the glm framing), and the loss fell.
    const sftSource = directorySource(path.join(outDir, 'sft'));
    const sft = await loadCheckpoint(sftSource);
    expect(promptFamilyOf(sft.config, await loadCheckpointTokenizer(sftSource))).toBe('glm');
    expect(promptStyleOf(sft.config.raw)).toBe('compact');
    const history = state.sft!.history;
    expect(history).toHaveLength(preset.sft.steps);
    expect(history.at(-1)!.loss).toBeLessThan(history[0]!.loss);
    expect(state.sft!.sequences).toBeGreaterThanOrEqual(5); // conll04 (relations) is part of it
    // Dev F1 every devF1.every steps and at the end, for every dataset (relations for conll04 only).
    const devSteps = (state.sftDevF1 ?? []).map((point) => point.step);
    expect(devSteps).toEqual([...new Set([...Array.from({ length: Math.floor(preset.sft.steps / preset.devF1.every) }, (_, i) => (i + 1) * preset.devF1.every), preset.sft.steps])]);
    for (const point of state.sftDevF1!) {
      expect(Object.keys(point.datasets).sort()).toEqual(['conll04', 'resume-ner', 'wnut17']);
      expect(point.datasets.conll04!.relationStrictF1).not.toBeNull();
      expect(point.datasets.wnut17!.relationStrictF1).toBeNull();
      expect(point.datasets.wnut17!.examples).toBe(preset.devF1.perDataset);
    }

    // The report: entity F1 for every dataset, relation F1 for conll04, no hallucination when constrained.
    const report = JSON.parse(readFileSync(path.join(outDir, 'eval', 'report.json'), 'utf8')) as EvalReport;
    expect(Object.keys(report.datasets).sort()).toEqual(['conll04', 'resume-ner', 'wnut17']);
    for (const [dataset, splits] of Object.entries(report.datasets)) {
      for (const split of ['dev', 'test'] as const) {
        for (const mode of ['constrained', 'free'] as const) {
          const scores = splits[split][mode];
          expect(scores.entityF1).toBeGreaterThanOrEqual(0);
          expect(scores.entityF1).toBeLessThanOrEqual(1);
          if (dataset === 'conll04') expect(scores.relationStrictF1).not.toBeNull();
          else expect(scores.relationStrictF1).toBeNull();
        }
        expect(splits[split].constrained.hallucinated).toBe(0);
        expect(splits[split].constrained.malformedAnswers).toBe(0);
      }
    }

    // The final model folder loads and carries the model card.
    const final = await loadCheckpoint(directorySource(path.join(outDir, 'model')));
    expect(final.config.numLayers).toBe(preset.model.numLayers);
    // Its weights are the SFT checkpoint's rounded to f16, in a file of about half the size.
    const finalBytes = readFileSync(path.join(outDir, 'model', 'model.safetensors'));
    expect(finalBytes.subarray(8, 8 + Number(finalBytes.readBigUInt64LE(0))).toString()).toMatch(/"dtype":"F16"/);
    expect(finalBytes.length).toBeLessThan(statSync(path.join(outDir, 'sft', 'model.safetensors')).size * 0.6);
    for (const [name, tensor] of sft.tensors) {
      expect([...final.tensors.get(name)!.data]).toEqual([...tensor.data].map((x) => f16BitsToF32(f32ToF16Bits(x))));
    }
    const card = readFileSync(path.join(outDir, 'model', 'README.md'), 'utf8');
    expect(card).toContain('ChatGLM-6B');
    expect(card).toContain('| attention init | mimetic (qk 1, vo 0.5)');
    expect(card).toContain('words kept whole');
    expect(card).toMatch(/\| conll04 \| test \|/);
    expect(card).toContain('### Learning curves');
    expect(card).toMatch(/\| step \| conll04 entity F1 \| wnut17 entity F1 \| resume-ner entity F1 \| conll04 relation F1 \|/);
    expect(card).toContain('"chatuie_prompt_style": "compact"');
    const scales = sublayerOutputLrScaleOf(final.config);
    expect(scales.mlp).toBe(scales.attention);
    const scale = scales.attention;
    expect(scale).toBeCloseTo((0.4 * Math.sqrt(56)) / preset.model.initStd, 6);
    expect(card).toContain(`| balanced residual | the sublayer output projections (attention \`dense\`, MLP \`dense_4h_to_h\`) start at ${scale.toFixed(1)}×`);
    // The model folder carries the run's record and report: what --warm-start continues from.
    const modelDir = path.join(outDir, 'model');
    expect((JSON.parse(readFileSync(path.join(modelDir, 'training-log.json'), 'utf8')) as PipelineState).completed).toEqual(state.completed);
    expect(JSON.parse(readFileSync(path.join(modelDir, 'eval-report.json'), 'utf8'))).toEqual(report);

    // A preset that continues this one: warm-started from the model folder, it takes over the
    // tokenizer and pretraining, trains more SFT from the folder's weights, and its card shows both runs.
    const continued: DemoPreset = { ...preset, name: 'small-continued', continues: 'extra-small', sft: { ...preset.sft, steps: 2 }, seed: 2 };
    const freshDir = (): string => mkdtempSync(path.join(tmpdir(), 'chatuie-demo-continued-'));
    await expect(runDemoPipeline({ ctx, preset: continued, dataDir: DATA_DIR, outDir: freshDir(), resume: false, log: () => {} })).rejects.toThrow(/--warm-start MODEL_DIR/);
    await expect(runDemoPipeline({ ctx, preset, dataDir: DATA_DIR, outDir: freshDir(), resume: false, warmStart: modelDir, log: () => {} })).rejects.toThrow(/only for a preset that continues another/);
    await expect(runDemoPipeline({ ctx, preset: { ...continued, continues: 'tiny' }, dataDir: DATA_DIR, outDir: freshDir(), resume: false, warmStart: modelDir, log: () => {} }))
      .rejects.toThrow(/trained with preset "extra-small", not "tiny"/);
    const continuedDir = freshDir();
    const continuedLog: string[] = [];
    const second = await runDemoPipeline({ ctx, preset: continued, dataDir: DATA_DIR, outDir: continuedDir, resume: false, warmStart: modelDir, log: (l) => continuedLog.push(l) });
    expect(second.completed).toEqual(['tokenizer', 'pretrain', 'sft', 'eval', 'card']);
    expect(continuedLog).toContain('[pretrain] done, skipped');
    expect(second.warmStart!.previous.sft!.steps).toBe(preset.sft.steps);
    expect(second.pretrain).toEqual(state.pretrain);
    expect(second.sft!.history).toHaveLength(2);
    expect(readFileSync(path.join(continuedDir, 'model', 'tokenizer.json'), 'utf8')).toBe(readFileSync(path.join(modelDir, 'tokenizer.json'), 'utf8'));
    const continuedCard = readFileSync(path.join(continuedDir, 'model', 'README.md'), 'utf8');
    expect(continuedCard).toContain('(run of preset "extra-small")');
    expect(continuedCard).toContain('more SFT on the same data, from the model above');
    const N = preset.sft.steps;
    expect(continuedCard).toContain(`steps 1–${N}: run "extra-small"; steps ${N + 1}–${N + 2}: run "small-continued"`);
    expect(continuedCard).toMatch(new RegExp(`\\| ${N + 2} \\| [0-9.]+ \\|`)); // the curve counts on
    expect(continuedCard).toMatch(/\| whole words \|/); // dev F1 points now record their mention rule

    // A continuation of the continuation: the card walks the whole chain of runs.
    // It also sees conll04's examples twice per epoch (sftRepeats).
    const third: DemoPreset = { ...continued, name: 'small-continued-2', continues: 'small-continued', sft: { ...continued.sft, groupByLength: 2, hiddenDropout: 0.1 }, seed: 3, sftRepeats: { conll04: 2 }, sftConstrainedLoss: true, sftConstrainedShare: 0.5, sftMentionReplacement: 1, sftLanguageModelling: { share: 0.5, casie: true }, sftTaggedText: { share: 0.25 }, sftSyntheticCopy: { share: 0.2, minTokens: 3, maxTokens: 6 }, sftPromptTags: { weight: 0.5, negatives: 1, decodingBias: 1, decodingEndBias: 0.5, decodingListBias: 0.25, decodingSkipBias: 0.75 } };
    await expect(runDemoPipeline({ ctx, preset: third, dataDir: DATA_DIR, outDir: freshDir(), resume: false, warmStart: modelDir, log: () => {} }))
      .rejects.toThrow(/trained with preset "extra-small", not "small-continued"/);
    const thirdDir = freshDir();
    const thirdLog: string[] = [];
    const thirdState = await runDemoPipeline({ ctx, preset: third, dataDir: DATA_DIR, outDir: thirdDir, resume: false, warmStart: path.join(continuedDir, 'model'), log: (l) => thirdLog.push(l) });
    const conll04Line = thirdLog.find((l) => /^\[sft\] conll04: \d+ examples/.test(l))!;
    const conll04Examples = Number(/^\[sft\] conll04: (\d+) examples × 2 /.exec(conll04Line)![1]);
    // Language modelling as half the SFT set: as many gMASK sequences as IE ones (of the 4 datasets' texts, CASIE's too).
    const lmLine = thirdLog.find((l) => l.startsWith('[sft] language modelling:'))!;
    const [, lmCount, lmTexts] = /^\[sft\] language modelling: (\d+) gMASK sequences of (\d+) training texts \(with CASIE\), 50% of the SFT training set$/.exec(lmLine)!;
    const ieSequences = second.sft!.sequences + conll04Examples;
    expect(Number(lmTexts)).toBe(4 * preset.trainPerDataset!);
    expect(Number(lmCount)).toBe(Math.min(Number(lmTexts), ieSequences));
    // The tagged-text task as a quarter of the SFT set: a third as many as the IE and LM sequences, from the 3 datasets' training examples.
    const taggedLine = thirdLog.find((l) => l.startsWith('[sft] tagged text:'))!;
    const [, taggedCount, taggedPool] = /^\[sft\] tagged text: (\d+) of (\d+) training examples with their entities bracketed, 25% of the SFT training set$/.exec(taggedLine)!;
    expect(Number(taggedPool)).toBe(3 * preset.trainPerDataset!);
    expect(Number(taggedCount)).toBe(Math.min(Number(taggedPool), Math.round((ieSequences + Number(lmCount)) / 3)));
    expect(Number(taggedCount)).toBeGreaterThan(0);
    // The copy task as a fifth of the SFT set: a quarter as many as the sequences before it.
    const copyLine = thirdLog.find((l) => l.startsWith('[sft] copy task:'))!;
    const [, copyCount] = /^\[sft\] copy task: (\d+) runs of 3–6 random tokens written back, 20% of the SFT training set$/.exec(copyLine)!;
    expect(Number(copyCount)).toBe(Math.round((ieSequences + Number(lmCount) + Number(taggedCount)) / 4));
    expect(thirdState.sft!.sequences).toBe(ieSequences + Number(lmCount) + Number(taggedCount) + Number(copyCount));
    // Prompt tags on every IE sequence: one vocabulary of tag tokens, rows on each dataset's sequences, a tag loss every step.
    expect(thirdLog.find((l) => l.startsWith('[sft] prompt tags:'))).toMatch(/^\[sft\] prompt tags: O \d+, I \d+, B location \d+, organization \d+, other \d+, person \d+, .* \(tokens the training texts never use\), weight 0\.5, 1 outside rows per tagged row$/);
    for (const dataset of ['conll04', 'wnut17', 'resume-ner']) {
      expect(thirdLog.find((l) => l.startsWith(`[sft] ${dataset}: prompt tags on `))).toMatch(/prompt tags on [1-9]\d* sequences, [1-9][\d.]* tag rows per sequence$/);
    }
    // The model trained with them records its tag tokens in config.json, the ones the log names.
    const tagsLine = thirdLog.find((l) => l.startsWith('[sft] prompt tags:'))!;
    const recorded = promptTagVocabularyOf(JSON.parse(readFileSync(path.join(thirdDir, 'model', 'config.json'), 'utf8')) as Record<string, unknown>, thirdState.tokenizer!.vocabSize)!;
    expect(tagsLine).toContain(`O ${recorded.outside}, I ${recorded.inside}, B ${[...recorded.begin].map(([type, id]) => `${type} ${id}`).join(', ')} (`);
    expect(promptTagVocabularyOf(JSON.parse(readFileSync(path.join(continuedDir, 'model', 'config.json'), 'utf8')) as Record<string, unknown>, 10_000)).toBeNull();
    // The shipped config recommends the preset's tag-guided λ and λ_end, and the eval stage's constrained decoding uses them (every dataset and split; free decoding is the model alone).
    expect(recorded.decodingBias).toBe(1);
    expect(recorded.decodingEndBias).toBe(0.5);
    expect(recorded.decodingListBias).toBe(0.25);
    expect(recorded.decodingSkipBias).toBe(0.75);
    expect(promptTagVocabularyOf(JSON.parse(readFileSync(path.join(thirdDir, 'sft', 'config.json'), 'utf8')) as Record<string, unknown>, thirdState.tokenizer!.vocabSize)!.decodingBias).toBeUndefined();
    const thirdReport = JSON.parse(readFileSync(path.join(thirdDir, 'model', EVAL_REPORT_FILE), 'utf8')) as EvalReport;
    const biases = (mode: 'constrained' | 'free') => Object.values(thirdReport.datasets).flatMap((splits) => Object.values(splits).map((modes) => modes[mode].tagBias));
    expect(biases('constrained')).toEqual([1, 1, 1, 1, 1, 1]);
    expect(biases('free')).toEqual([0, 0, 0, 0, 0, 0]);
    expect(Object.values(thirdReport.datasets).flatMap((splits) => Object.values(splits).map((modes) => modes.constrained.tagEndBias))).toEqual([0.5, 0.5, 0.5, 0.5, 0.5, 0.5]);
    expect(Object.values(thirdReport.datasets).flatMap((splits) => Object.values(splits).map((modes) => modes.constrained.tagListBias))).toEqual([0.25, 0.25, 0.25, 0.25, 0.25, 0.25]);
    expect(Object.values(thirdReport.datasets).flatMap((splits) => Object.values(splits).map((modes) => modes.constrained.tagSkipBias))).toEqual([0.75, 0.75, 0.75, 0.75, 0.75, 0.75]);
    expect(thirdLog.filter((l) => l.startsWith('[eval] ') && l.includes(' constrained: ') && l.endsWith(', tag-guided λ 1, λ_end 0.5, λ_list 0.25, λ_skip 0.75)'))).toHaveLength(6);
    // (a step whose batch drew only LM, tagged-text and copy sequences has no tag rows, and says nothing)
    expect(thirdLog.filter((l) => /^\[sft\] step \d+\/\d+ loss [\d.]+ tags [\d.]+ /.test(l)).length).toBeGreaterThan(0);
    // Mention replacement at share 1: every mention whose type has another text in the pool changes, in both copies.
    const replacedLine = thirdLog.find((l) => l.startsWith('[sft] conll04: mention replacement'))!;
    const [, changed, mentions] = /changed (\d+) of (\d+) entity mentions over 2 copies$/.exec(replacedLine)!;
    expect(Number(changed)).toBeGreaterThan(0);
    expect(Number(changed)).toBeLessThanOrEqual(Number(mentions));
    // The constrained loss: the log says how many answer tokens it masks.
    expect(conll04Line).toMatch(/, constrained loss on [\d,]+ of [\d,]+ answer tokens$/);
    // The mixed loss: half the training sequences keep the masks.
    const total = thirdState.sft!.sequences;
    expect(thirdLog).toContain(`[sft] mixed loss: the constrained loss on ${Math.floor(ieSequences / 2)} of ${total} training sequences, the plain loss on the rest and on dev`);
    expect(thirdLog.find((l) => l.startsWith('[sft] dev loss on'))).toMatch(/^\[sft\] dev loss on [1-9]\d* sequences, 0 of them with the constrained loss$/);
    expect(runLineage(thirdState).map((run) => run.preset.name)).toEqual(['extra-small', 'small-continued', 'small-continued-2']);
    expect(thirdState.pretrain).toEqual(state.pretrain);
    const thirdCard = readFileSync(path.join(thirdDir, 'model', 'README.md'), 'utf8');
    expect(thirdCard).toContain(`steps 1–${N}: run "extra-small"; steps ${N + 1}–${N + 2}: run "small-continued"; steps ${N + 3}–${N + 4}: run "small-continued-2"`);
    expect(thirdCard.match(/^\| sft \|/gm)).toHaveLength(3);
    expect(thirdCard).toContain('Constrained decoding is tag-guided (λ 1, λ_end 0.5, λ_list 0.25, λ_skip 0.75: the model\'s own prompt tags bias which word opens each mention and where it ends and how many mentions each list holds and which types get a list; see Use); free decoding is not.');
    expect(thirdCard).toContain('records its tag tokens and a\nrecommended λ 1, λ_end 0.5, λ_list 0.25, λ_skip 0.75 in config.json');
    expect(thirdCard).toContain('after a mention of type T,\na token that goes on to another gets λ_list · log of the best p(B-T) at the word starts after it');
    expect(thirdCard).toContain('each key, or the answer\'s end, that\npasses over an entity type T without a list costs λ_skip · log(1 − the best p(B-T) in the text)');
    expect(thirdCard).toContain('inside a mention,\na token that carries it onto the next prompt token gets λ_end · log p(I) there');
    expect(continuedCard).not.toContain('tag-guided');
    expect(thirdCard).toContain('batches grouped by length over 2 steps, hidden dropout 0.1 on the attention and MLP outputs, conll04 examples 2 times per epoch, the mixed loss (the constrained loss — each answer token\'s softmax');
    expect(thirdCard).toMatch(/on 50% of the training sequences, the plain loss on the rest and on dev\), mention replacement \(each entity text of an example replaced by another training mention of its type with probability 1, drawn anew for every copy\), GLM gMASK language modelling on the training texts and CASIE's as 50% of the training sequences, the tagged-text task \(the text written back with each entity bracketed with its type\) as 25% of the training sequences, the copy task \(runs of 3–6 random tokens written back verbatim\) as 20% of the training sequences, the prompt-tag task \(each mention token of the text predicts its BIO tag from its own prompt position, 1 outside tokens per tagged one, loss weight 0.5\) \(run of preset "small-continued-2"\)/);
    expect(thirdCard).toContain('more SFT on the same data, from the model above: fresh AdamW, a new warmup + cosine schedule, another seed\'s batch order (run of preset "small-continued")');
    expect(thirdCard).toMatch(new RegExp(`\\| ${N + 4} \\| [0-9.]+ \\|`));

    // The copy task alone (share 1): one pass of steps × batch copy runs, the IE examples for the dev loss only;
    // here with span answers (2 tokens of each run from a random offset).
    const copyOnly: DemoPreset = { ...continued, name: 'small-continued-3', continues: 'small-continued', seed: 4, sftSyntheticCopy: { share: 1, minTokens: 3, maxTokens: 5, span: 2 } };
    await expect(runDemoPipeline({ ctx, preset: { ...copyOnly, sftTaggedText: { share: 0.25 } }, dataDir: DATA_DIR, outDir: freshDir(), resume: false, stopAfter: 'sft', warmStart: path.join(continuedDir, 'model'), log: () => {} }))
      .rejects.toThrow(/sftSyntheticCopy.share 1 trains the copy task alone, so it takes no sftLanguageModelling, sftTaggedText or sftPromptTags/);
    const copyLog: string[] = [];
    const copyState = await runDemoPipeline({ ctx, preset: copyOnly, dataDir: DATA_DIR, outDir: freshDir(), resume: false, stopAfter: 'sft', warmStart: path.join(continuedDir, 'model'), log: (l) => copyLog.push(l) });
    const copyRuns = copyOnly.sft.steps * copyOnly.sft.batchSize * copyOnly.sft.accumulation;
    expect(copyLog).toContain(`[sft] copy task: ${copyRuns} runs of 3–5 random tokens, 2 of them from a random offset written back, 100% of the SFT training set`);
    expect(copyLog.filter((l) => / examples not trained \(the copy task alone\) /.test(l))).toHaveLength(3);
    expect(copyState.sft!.sequences).toBe(copyRuns);
    expect(copyLog.find((l) => l.startsWith('[sft] dev loss on'))).toMatch(/^\[sft\] dev loss on [1-9]\d* sequences/);

    // A run without prompt tags from the tagged model keeps its tag tokens, not its recommended λ (measured for that model, not this one).
    const untaggedDir = freshDir();
    const untagged: DemoPreset = { ...continued, name: 'small-continued-3', continues: 'small-continued-2', seed: 5 };
    await runDemoPipeline({ ctx, preset: untagged, dataDir: DATA_DIR, outDir: untaggedDir, resume: false, stopAfter: 'sft', warmStart: path.join(thirdDir, 'model'), log: () => {} });
    const kept = promptTagVocabularyOf(JSON.parse(readFileSync(path.join(untaggedDir, 'sft', 'config.json'), 'utf8')) as Record<string, unknown>, thirdState.tokenizer!.vocabSize)!;
    expect(kept).toEqual({ ...recorded, decodingBias: undefined, decodingEndBias: undefined, decodingListBias: undefined, decodingSkipBias: undefined });
    expect(kept).not.toHaveProperty('decodingBias');
    expect(kept).not.toHaveProperty('decodingEndBias');
    expect(kept).not.toHaveProperty('decodingListBias');
    expect(kept).not.toHaveProperty('decodingSkipBias');
  }, 500_000);

  it('skips pretraining at 0 steps: the stage writes the initial weights (mimetic ones with the induction circuit here) and SFT starts from them', async () => {
    const ctx = await testContext();
    const outDir = mkdtempSync(path.join(tmpdir(), 'chatuie-demo-nopretrain-'));
    const base = demoPreset('extra-small');
    const circuit = { match: 4, write: 8, copy: 3 };
    const preset: DemoPreset = { ...base, model: { ...base.model, numLayers: 2, mimetic: { qk: 1, vo: 1 }, inductionCircuit: circuit }, pretrain: { ...base.pretrain, steps: 0 }, sft: { ...base.sft, steps: 1 } };
    const log: string[] = [];
    const first = await runDemoPipeline({ ctx, preset, dataDir: DATA_DIR, outDir, resume: false, stopAfter: 'pretrain', log: (l) => log.push(l) });
    expect(first.completed).toEqual(['tokenizer', 'pretrain']);
    expect(first.pretrain).toEqual({ steps: 0, wallMs: 0, sequences: 0, history: [] });
    expect(log.some((l) => l.startsWith('[pretrain] 0 steps: SFT starts from the initial weights') && l.includes('mimetic attention init (qk 1, vo 1), the induction circuit built in (match 4, write 8, copy 3)'))).toBe(true);
    expect(log.some((l) => l.startsWith('[pretrain] step '))).toBe(false);
    // The written weights are exactly the fresh model's, mimetic init and circuit included.
    const written = await loadCheckpoint(directorySource(path.join(outDir, 'pretrain')));
    const expected = inductionCircuit(written.config, mimeticAttention(written.config, initialTensors(written.config, preset.model.initStd, preset.seed), { qk: 1, vo: 1 }), circuit);
    expect(written.tensors.size).toBe(expected.length);
    for (const tensor of expected) expect(written.tensors.get(tensor.name)!.data, tensor.name).toEqual(tensor.data);
    expect(existsSync(path.join(outDir, 'pretrain', 'tokenizer.json'))).toBe(true);

    const resumed = await runDemoPipeline({ ctx, preset, dataDir: DATA_DIR, outDir, resume: true, log: () => {} });
    expect(resumed.completed).toEqual(['tokenizer', 'pretrain', 'sft', 'eval', 'card']);
    expect(resumed.sft!.steps).toBe(1);
    expect(Number.isFinite(resumed.sft!.history[0]!.loss)).toBe(true);
    // The card names both inits.
    const card = readFileSync(path.join(outDir, 'model', 'README.md'), 'utf8');
    expect(card).toContain('| attention init | mimetic (qk 1, vo 1)');
    expect(card).toContain('| induction circuit | built in at init (match 4, write 8, copy 3): layer 0\'s head 0 attends to the previous prompt position');
  }, 300_000);

  it('plans a budgeted stage from a calibration on this device, records the plan, and keeps it on --resume', async () => {
    const ctx = await testContext();
    const outDir = mkdtempSync(path.join(tmpdir(), 'chatuie-demo-budget-'));
    const base = demoPreset('extra-small');
    const preset: DemoPreset = { ...base, pretrain: { ...base.pretrain, steps: 40, minutes: 0.2, checkpointEvery: 2 } };
    let steps = 0;
    const log: string[] = [];
    // Stopped after 2 steps (as --deadline-minutes stops a run), then resumed. The budget (12 s)
    // holds more than 2 steps unless a step takes over 4 s; the cap keeps the test short.
    const first = await runDemoPipeline({ ctx, preset, dataDir: DATA_DIR, outDir, resume: false, stopAfter: 'pretrain', log: (l) => log.push(l), shouldStop: () => ++steps > 2 });
    expect(first.completed).toEqual(['tokenizer']);
    const plan = first.plan!.pretrain!;
    expect(plan.minutes).toBe(0.2);
    expect(plan.calibrationSteps).toBe(CALIBRATION_STEPS);
    expect(plan.secondsPerStep).toBeGreaterThan(0);
    expect(plan.steps).toBe(stepsForBudget(0.2, plan.secondsPerStep, 40));
    expect(plan.steps).toBeGreaterThan(2);
    expect(log.some((l) => /\[pretrain\] calibrated .* s\/step \(8 throwaway steps\): \d+ steps fit the 0.2-minute budget/.test(l))).toBe(true);
    // The stage's schedule is the plan's: its progress counts to plan.steps.
    expect(log.some((l) => l.startsWith(`[pretrain] step 2/${plan.steps} `))).toBe(true);

    const resumedLog: string[] = [];
    const resumed = await runDemoPipeline({ ctx, preset, dataDir: DATA_DIR, outDir, resume: true, stopAfter: 'pretrain', log: (l) => resumedLog.push(l) });
    expect(resumed.completed).toEqual(['tokenizer', 'pretrain']);
    expect(resumed.plan!.pretrain).toEqual(plan);
    expect(resumedLog.some((l) => l.includes('calibrated'))).toBe(false);
    expect(resumedLog).toContain(`[pretrain] ${plan.steps} steps, as planned from a 0.2-minute budget at ${plan.secondsPerStep.toFixed(3)} s/step`);
    expect(resumed.pretrain!.steps).toBe(plan.steps);
    expect(resumed.pretrain!.history.map((p) => p.step)).toEqual(Array.from({ length: plan.steps }, (_, i) => i + 1));
  }, 300_000);

  it('stepsForBudget: what fits, at least one step, at most the cap, and refuses nonsense', () => {
    expect(stepsForBudget(2, 0.5, 1000)).toBe(240);
    expect(stepsForBudget(2, 0.5, 100)).toBe(100);
    expect(stepsForBudget(0.001, 5, 100)).toBe(1);
    expect(stepsForBudget(1, 0.7, 1000)).toBe(85);
    expect(() => stepsForBudget(0, 1, 10)).toThrow(/minutes/);
    expect(() => stepsForBudget(1, NaN, 10)).toThrow(/s per step/);
    expect(() => stepsForBudget(1, 1, 0)).toThrow(/cap/);
  });
});
