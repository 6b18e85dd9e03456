// Can a model copy its gold mentions out of its prompt token by token? For a tokenizer, over the
// dev splits of the demo datasets: how many tokens the prompts and the gold answers take, how many
// of the answers' mention tokens also occur in their prompt, and how many mentions are written in
// the answer as exactly a run of the prompt's tokens (the only kind a copy circuit can reproduce
// id by id). Tokenizers: a checkpoint's (--tokenizer DIR) or one trained here on the pipeline's
// texts (--train glm4|words: bpe-trainer.ts's GLM-4 split or the split with words isolated).
// Prints a table; never fails on a number. No GPU.
//   node --import ./bin/register.mjs bench/mention-tokens.bench.ts [--tokenizer public/models/chatuie-demo]
//     [--train glm4|words] [--vocab 4000] [--data ../shared/data] [--limit 0 (all)]
import path from 'node:path';
import { byteLevelAlphabet, trainByteLevelBpe, type BpeSplit } from '../src/io/bpe-trainer.ts';
import { directorySource } from '../src/io/node-source.ts';
import { loadHfTokenizer, type Tokenizer } from '../src/io/tokenizer.ts';
import { inferTaskKind, serializeAnswer } from '../src/ie/answer.ts';
import { buildAnswerIds } from '../src/ie/prompt.ts';
import { schemaFromDataset } from '../src/ie/schema.ts';
import { loadCheckpointTokenizer, promptIdsFor } from '../src/ie/task-data.ts';
import { DEMO_DATASETS } from '../src/train/demo/config.ts';
import { readSplit } from '../src/train/demo/pipeline.ts';
import { characterRoles } from './answer-characters.ts';
import { arg } from './args.ts';

const dataDir = arg('data', '../shared/data');
const limit = Number(arg('limit', '0'));
const trainSplit = arg('train', '');
if (trainSplit !== '' && trainSplit !== 'glm4' && trainSplit !== 'words') throw new Error(`--train ${trainSplit}: give glm4 or words`);

let tokenizer: Tokenizer;
let described: string;
if (trainSplit === '') {
  const dir = arg('tokenizer', 'public/models/chatuie-demo');
  tokenizer = await loadCheckpointTokenizer(directorySource(dir));
  described = `the tokenizer of ${dir}`;
} else {
  const vocabSize = Number(arg('vocab', '4000'));
  const texts = DEMO_DATASETS.flatMap((dataset) => readSplit(dataDir, dataset, 'train').map((e) => e.text));
  const bpe = trainByteLevelBpe(texts, { vocabSize, split: trainSplit as BpeSplit });
  tokenizer = loadHfTokenizer(JSON.stringify(bpe.tokenizerJson), JSON.stringify(bpe.tokenizerConfig));
  described = `a byte-level BPE trained here (split ${trainSplit}, ${bpe.vocabSize} tokens) on ${texts.length} training texts`;
}

const encoder = new TextEncoder();
// Each token's UTF-8 bytes (byte-level BPE writes byte b as the printable character alphabet[b]).
const byteOf = new Map(byteLevelAlphabet().map((character, byte) => [character, byte]));
function tokenBytes(id: number): number {
  const token = tokenizer.idToToken(id) ?? '';
  let count = 0;
  for (const character of token) count += byteOf.has(character) ? 1 : encoder.encode(character).length;
  return count;
}

/** Whether `run` occurs contiguously in `ids`. */
function occursIn(ids: readonly number[], run: readonly number[]): boolean {
  outer: for (let i = 0; i + run.length <= ids.length; i++) {
    for (let j = 0; j < run.length; j++) if (ids[i + j] !== run[j]) continue outer;
    return true;
  }
  return false;
}

console.log(`${described}; dev splits of ${dataDir}${limit > 0 ? `, first ${limit} examples each` : ''}; compact prompts\n`);
console.log('| dataset | examples | prompt tokens (mean) | answer tokens (mean) | mention tokens | of them in the prompt % | mentions written as a run of the prompt\'s tokens % |');
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const dataset of DEMO_DATASETS) {
  const schema = schemaFromDataset(readSplit(dataDir, dataset, 'train'));
  const task = inferTaskKind(schema);
  const all = readSplit(dataDir, dataset, 'dev');
  const examples = limit > 0 ? all.slice(0, limit) : all;
  let promptTokens = 0, answerTokens = 0, mentionTokens = 0, inPrompt = 0, mentions = 0, copyable = 0;
  for (const example of examples) {
    const prompt = promptIdsFor({ tokenizer, family: 'glm', schema, task, style: 'compact' }, example.text);
    const answerText = serializeAnswer(example, schema, task);
    const answer = buildAnswerIds(tokenizer, 'glm', answerText);
    promptTokens += prompt.length;
    answerTokens += answer.length;
    // Each byte of the answer text gets its character's role; mention m's bytes carry index m.
    const roles = characterRoles(answerText);
    const mentionOfByte: number[] = [];
    let mention = -1;
    for (let c = 0; c < answerText.length;) {
      const character = String.fromCodePoint(answerText.codePointAt(c)!);
      if (roles[c] === 'first') mention++;
      const inside = roles[c] === 'first' || roles[c] === 'continuation';
      for (let b = encoder.encode(character).length; b > 0; b--) mentionOfByte.push(inside ? mention : -1);
      c += character.length;
    }
    const tokensOf = new Map<number, { ids: number[]; clean: boolean }>();
    const promptSet = new Set(prompt);
    let at = 0;
    for (const id of answer.slice(0, -1)) {
      const bytes = mentionOfByte.slice(at, at + tokenBytes(id));
      at += bytes.length;
      const touched = new Set(bytes.filter((m) => m >= 0));
      if (touched.size === 0) continue;
      mentionTokens++;
      if (promptSet.has(id)) inPrompt++;
      for (const m of touched) {
        const entry = tokensOf.get(m) ?? { ids: [], clean: true };
        entry.ids.push(id);
        if (touched.size > 1 || bytes.some((b) => b !== m)) entry.clean = false;
        tokensOf.set(m, entry);
      }
    }
    for (const { ids, clean } of tokensOf.values()) {
      mentions++;
      if (clean && occursIn(prompt, ids)) copyable++;
    }
  }
  const n = examples.length;
  console.log(`| ${path.basename(dataset)} | ${n} | ${(promptTokens / n).toFixed(1)} | ${(answerTokens / n).toFixed(1)} | ${mentionTokens} | ${(100 * inPrompt / Math.max(1, mentionTokens)).toFixed(1)} | ${(100 * copyable / Math.max(1, mentions)).toFixed(1)} |`);
}
