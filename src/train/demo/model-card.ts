// The model card (README.md of the model folder, meant for public/models/<name>/) filled from a
// finished demo run: architecture and size, data, steps, wall time and hardware, dev/test scores
// per dataset, and the learning curves as a small table.

import type { HistoryPoint } from '../checkpoint.ts';
import type { GlmConfig } from '../../model/config.ts';
import { isUnscaled, SUBLAYER_OUTPUT_LR_SCALE_KEY, sublayerOutputLrScaleOf } from '../residual-balance.ts';
import { DEMO_DATASETS, type DemoPreset } from './config.ts';
import { recommendedTagScales, recordedTagScales, tagBiasLabel } from '../../ie/tag-label.ts';
import type { EvalReport, PipelineState } from './pipeline.ts';

export interface ModelCardInput {
  state: PipelineState;
  report: EvalReport;
  config: GlmConfig;
  parameterCount: number;
}

const DATA_SOURCES: Record<string, string> = {
  conll04: 'CoNLL04 (Roth & Yih 2004): English news, entities + relations',
  wnut17: 'WNUT-17 (CC BY 4.0): English social media, emerging entities',
  'resume-ner': 'Resume NER (Zhang & Yang 2018): Chinese resumes, entities',
  casie: 'CASIE (Satyapanich et al. 2020): English cybersecurity news — texts only, for the tokenizer and pretraining',
};

function percent(value: number | null): string {
  return value === null ? '–' : (100 * value).toFixed(1);
}

function minutes(ms: number | undefined): string {
  return ms === undefined ? '–' : `${(ms / 60000).toFixed(1)} min`;
}

/** At most `rows` points of a loss history, evenly spaced, always with the last one. */
function curveRows(history: readonly HistoryPoint[], rows = 10): HistoryPoint[] {
  if (history.length <= rows) return [...history];
  const picked: HistoryPoint[] = [];
  for (let i = 0; i < rows; i++) picked.push(history[Math.round((i * (history.length - 1)) / (rows - 1))]!);
  return picked;
}

function curveTable(history: readonly HistoryPoint[]): string {
  const lines = ['| step | train loss | dev loss | lr |', '| ---: | ---: | ---: | ---: |'];
  for (const point of curveRows(history)) {
    // Dev loss is measured every evalEvery steps: show the nearest measurement at or before this step.
    const dev = [...history].reverse().find((p) => p.step <= point.step && p.devLoss !== undefined)?.devLoss;
    lines.push(`| ${point.step} | ${point.loss.toFixed(3)} | ${dev === undefined ? '–' : dev.toFixed(3)} | ${point.lr.toExponential(1)} |`);
  }
  return lines.join('\n');
}

/** The card's row for a model trained with the balanced residual (train/residual-balance.ts); none otherwise. */
function balanceRow(config: GlmConfig): string {
  const scales = sublayerOutputLrScaleOf(config);
  if (isUnscaled(scales)) return '';
  const [a, m] = [scales.attention.toFixed(1), scales.mlp.toFixed(1)];
  const which = a === m
    ? `the sublayer output projections (attention \`dense\`, MLP \`dense_4h_to_h\`) start at ${a}× the init and train at ${a}× the learning rate`
    : `the attention output projection (\`dense\`) starts at ${a}× the init and trains at ${a}× the learning rate, the MLP's (\`dense_4h_to_h\`) at ${m}×`;
  return `| balanced residual | ${which}, so that the sublayers weigh more in the post-LN residual from the start (docs/demo-model.md, "Why copying did not form"); config.json's \`${SUBLAYER_OUTPUT_LR_SCALE_KEY}\` makes every fine-tune do the same |\n`;
}

function mimeticRow(preset: DemoPreset): string {
  const mimetic = preset.model.mimetic;
  if (mimetic === undefined) return '';
  return `| attention init | mimetic (qk ${mimetic.qk}, vo ${mimetic.vo}): each head's key projection starts correlated with its query projection and its output projection with its value projection transposed, so a fresh head looks up tokens like its own and passes them on (docs/demo-model.md, "Mimetic attention") |\n`;
}

function inductionRow(preset: DemoPreset): string {
  const circuit = preset.model.inductionCircuit;
  if (circuit === undefined) return '';
  return `| induction circuit | built in at init (match ${circuit.match}, write ${circuit.write}, copy ${circuit.copy}): layer 0's head 0 attends to the previous prompt position and writes its token into the stream's last head-width of dims, every layer-1 head attends where that token equals the one just written and copies the token there, so the model writes the prompt's next token from the first step; the other sublayer outputs start at zero (docs/demo-model.md, "An induction circuit by construction") |\n`;
}

/**
 * The runs a model comes from, first to last: a warm-started run's record carries the run it
 * continued (which may itself be a continuation), so this walks that chain back to the run
 * that trained the tokenizer and pretraining.
 */
export function runLineage(state: PipelineState): PipelineState[] {
  const runs: PipelineState[] = [];
  for (let run: PipelineState | undefined = state; run; run = run.warmStart?.previous) runs.unshift(run);
  return runs;
}

/** The SFT step each run of the lineage starts after (0 for the first). */
function stepOffsets(runs: readonly PipelineState[]): number[] {
  const offsets: number[] = [];
  let total = 0;
  for (const run of runs) {
    offsets.push(total);
    total += run.sft?.steps ?? 0;
  }
  return offsets;
}

/** Every run's points, each run's steps counted on from the previous runs' last SFT step. */
function countedOn<T extends { step: number }>(runs: readonly PipelineState[], points: (run: PipelineState) => readonly T[]): T[] {
  const offsets = stepOffsets(runs);
  return runs.flatMap((run, i) => points(run).map((point) => ({ ...point, step: point.step + offsets[i]! })));
}

function devF1Table(runs: readonly PipelineState[]): string {
  const points = countedOn(runs, (run) => run.sftDevF1 ?? []);
  if (points.length === 0) return '(no dev-F1 points were recorded)';
  const header = ['| step |', ...DEMO_DATASETS.map((d) => ` ${d} entity F1 |`), ' conll04 relation F1 | mentions |'].join('');
  const lines = [header, `| ---: |${DEMO_DATASETS.map(() => ' ---: |').join('')} ---: | --- |`];
  for (const point of points) {
    const cells = DEMO_DATASETS.map((d) => ` ${percent(point.datasets[d]?.entityF1 ?? null)} |`).join('');
    // Points recorded before the field existed were decoded with any-substring mentions, the constraint of their day.
    const mentions = point.mentionBoundaries === 'anywhere' || point.mentionBoundaries === undefined ? 'any substring' : 'whole words';
    lines.push(`| ${point.step} |${cells} ${percent(point.datasets.conll04?.relationStrictF1 ?? null)} | ${mentions} |`);
  }
  return lines.join('\n');
}

/** The copy task's runs in words: the whole run written back, or a span of it from a random offset. */
function copyRuns(copy: NonNullable<DemoPreset['sftSyntheticCopy']>): string {
  const runs = `runs of ${copy.minTokens}–${copy.maxTokens} random tokens`;
  return copy.span === undefined ? `${runs} written back verbatim` : `${runs}, ${copy.span} of them from a random offset written back (the answer starts mid-run)`;
}

/**
 * What one SFT run trained, for the card's training table: its data and mixtures, or the copy task
 * alone (share 1), where the IE examples serve the dev loss only and their settings do not apply.
 * `first`: the lineage's first run (from pretraining), not a continuation of the model above.
 */
export function sftStageDescription(preset: DemoPreset, first: boolean): string {
  const sft = preset.sft;
  const grouped = sft.groupByLength ? `, batches grouped by length over ${sft.groupByLength} steps` : '';
  const dropout = sft.hiddenDropout ? `, hidden dropout ${sft.hiddenDropout} on the attention and MLP outputs` : '';
  const copy = preset.sftSyntheticCopy;
  const continued = 'from the model above: fresh AdamW, a new warmup + cosine schedule, another seed\'s batch order';
  if (copy?.share === 1) {
    return `${first ? '' : `${continued}: `}the copy task alone (${copyRuns(copy)}; the IE examples for the dev loss only)${grouped}${dropout}`;
  }
  const what = first ? 'IE answers, conll04 + wnut17 + resume-ner together, each under its own schema' : `more SFT on the same data, ${continued}`;
  const repeats = Object.entries(preset.sftRepeats ?? {}).map(([dataset, times]) => `, ${dataset} examples ${times} times per epoch`).join('');
  const share = preset.sftConstrainedShare;
  const constrained = preset.sftConstrainedLoss && share !== undefined
    ? `, the mixed loss (the constrained loss — each answer token's softmax over the tokens constrained decoding allows there — on ${Math.round(share * 100)}% of the training sequences, the plain loss on the rest and on dev)`
    : preset.sftConstrainedLoss
    ? ', the constrained loss (each answer token\'s softmax over the tokens constrained decoding allows there: its train and dev losses are lower than, and not comparable with, the plain loss above)'
    : '';
  const replaced = preset.sftMentionReplacement;
  const replacement = replaced === undefined ? ''
    : `, mention replacement (each entity text of an example replaced by another training mention of its type with probability ${replaced}, drawn anew for every copy)`;
  const lm = preset.sftLanguageModelling;
  const languageModelling = lm === undefined ? ''
    : `, GLM gMASK language modelling on the training texts${lm.casie ? ' and CASIE\'s' : ''} as ${Math.round(lm.share * 100)}% of the training sequences`;
  const taggedShare = preset.sftTaggedText?.share;
  const tagged = taggedShare === undefined ? ''
    : `, the tagged-text task (the text written back with each entity bracketed with its type) as ${Math.round(taggedShare * 100)}% of the training sequences`;
  const copyTask = copy === undefined ? ''
    : `, the copy task (${copyRuns(copy)}) as ${Math.round(copy.share * 100)}% of the training sequences`;
  const tags = preset.sftPromptTags;
  const promptTags = tags === undefined ? ''
    : `, the prompt-tag task (each mention token of the text predicts its BIO tag from its own prompt position, ${tags.negatives} outside tokens per tagged one, loss weight ${tags.weight})`;
  return `${what}${grouped}${dropout}${repeats}${constrained}${replacement}${languageModelling}${tagged}${copyTask}${promptTags}`;
}

export function writeModelCard({ state, report, config, parameterCount }: ModelCardInput): string {
  const { preset } = state;
  const datasets = [...DEMO_DATASETS, ...(preset.pretrainOnCasie ? ['casie'] : [])];
  const scoreRows: string[] = ['| dataset | split | examples | entity F1 | relation F1 (strict) | entity F1, free | relation F1, free | malformed (on / free) | hallucinated (on / free) | decode tok/s (on / free) |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |'];
  for (const dataset of DEMO_DATASETS) {
    for (const split of ['dev', 'test'] as const) {
      const scores = report.datasets[dataset]?.[split];
      if (!scores) continue;
      const { constrained: on, free: off } = scores;
      scoreRows.push(`| ${dataset} | ${split} | ${on.examples} | ${percent(on.entityF1)} | ${percent(on.relationStrictF1)} | ${percent(off.entityF1)} | ${percent(off.relationStrictF1)} | ${on.malformedAnswers} / ${off.malformedAnswers} | ${on.hallucinated} / ${off.hallucinated} | ${on.decodeTokensPerSecond.toFixed(0)} / ${off.decodeTokensPerSecond.toFixed(0)} |`);
    }
  }
  const guidedBy = [...new Set(Object.values(report.datasets).flatMap((splits) => Object.values(splits).flatMap((modes) =>
    Object.values(modes).map((scores) => tagBiasLabel(recordedTagScales(scores))))))].filter((label) => label !== '');
  const guides = (name: string): boolean => guidedBy.some((label) => label.includes(`${name} `));
  const tagGuided = guidedBy.length > 0
    ? ` Constrained decoding is tag-guided (${guidedBy.join('; ')}: the model's own prompt tags bias which word opens each mention${guides('λ_end') ? ' and where it ends' : ''}${guides('λ_list') ? ' and how many mentions each list holds' : ''}${guides('λ_skip') ? ' and which types get a list' : ''}; see Use); free decoding is not.`
    : '';
  const { decodingEndBias, decodingListBias, decodingSkipBias } = preset.sftPromptTags ?? {};
  const recommended = tagBiasLabel(recommendedTagScales(preset.sftPromptTags ?? {}));
  const tagUse = recommended === '' ? '' : `
The model was trained to tag its own input (the prompt-tag task) and records its tag tokens and a
recommended ${recommended} in config.json (\`"chatuie_prompt_tags"\`). The app, \`extract\` and \`eval\` decode
with it by default: where the answer opens a mention of type T, each token the constraint allows
gets λ · log p(B-T) of the model's tags at the word starts it could begin${decodingEndBias ? `; inside a mention,
a token that carries it onto the next prompt token gets λ_end · log p(I) there, one that closes it
before that token λ_end · log(1 − p(I))` : ''}${decodingListBias ? `; after a mention of type T,
a token that goes on to another gets λ_list · log of the best p(B-T) at the word starts after it, one
that closes the list λ_list · log(1 − that)` : ''}${decodingSkipBias ? `; each key, or the answer's end, that
passes over an entity type T without a list costs λ_skip · log(1 − the best p(B-T) in the text)` : ''}. It applies to
constrained greedy decoding under a schema whose entity types all have a tag (those of
${[...DEMO_DATASETS].join(', ')}); \`--tag-bias 0\` (or the app's switch) turns it off.
`;
  const megabytes = (parameterCount * 4) / 1e6;
  const weights = preset.weightsDtype === 'F16'
    ? `float16 in model.safetensors (${((parameterCount * 2) / 1e6).toFixed(1)} MB; trained in float32, rounded to nearest even; the scores below are of these weights)`
    : 'float32 in model.safetensors';
  const budgets = (['pretrain', 'sft'] as const).flatMap((stage) => {
    const plan = state.plan?.[stage];
    return plan ? [`${stage}: a ${plan.minutes}-minute budget at ${plan.secondsPerStep.toFixed(3)} s per step (timed over ${plan.calibrationSteps} throwaway steps) held ${plan.steps} steps`] : [];
  });
  const budgetLine = budgets.length > 0 ? `\nSteps planned from wall-clock budgets on this hardware: ${budgets.join('; ')}.\n` : '';
  const runs = runLineage(state);
  const first = runs[0]!;
  const sftRows = runs.map((run, i) => {
    const sft = run.preset.sft;
    return `| sft | ${sftStageDescription(run.preset, i === 0)} (run of preset "${run.preset.name}") | ${run.sft?.steps ?? '–'} | ${sft.batchSize * sft.accumulation} | ${sft.lr} | ${run.sft?.sequences ?? '–'} | ${minutes(run.sft?.wallMs)} |\n`;
  }).join('');
  const offsets = stepOffsets(runs);
  const runStarts = runs.length > 1
    ? ` (${runs.map((run, i) => `steps ${offsets[i]! + 1}–${offsets[i]! + (run.sft?.steps ?? 0)}: run "${run.preset.name}"`).join('; ')})`
    : '';
  const sftHistory = countedOn(runs, (run) => run.sft?.history ?? []);
  const pretrainPreset = first.preset;
  const totalMs = [state.tokenizer?.wallMs, state.pretrain?.wallMs, ...runs.flatMap((run) => [run.sft?.wallMs, run.eval?.wallMs])]
    .reduce<number>((sum, ms) => sum + (ms ?? 0), 0);
  return `# ChatUIE demo GLM (${preset.name})

A small GLM with the ChatGLM-6B architecture, trained from scratch by ChatUIE Web's own WebGPU
engine (\`npm run train:demo -- --preset ${preset.name}\`) to extract entities and relations as
JSON answers. It is a demonstration of the pipeline, not a competitive extractor.

## Architecture and size

| | |
| --- | --- |
| family | ChatGLM-6B (\`glm\`): prefix-LM attention mask, 2D rotary positions, DeepNorm post-LN residual (alpha = sqrt(56)), GeLU, tied embeddings |
${balanceRow(config)}${mimeticRow(pretrainPreset)}${inductionRow(pretrainPreset)}| hidden size C | ${config.hiddenSize} |
| layers | ${config.numLayers} |
| heads × head dim | ${config.numHeads} × ${config.headDim} |
| MLP inner size | ${config.ffnHiddenSize} |
| vocabulary | ${config.vocabSize} (byte-level BPE, ${state.tokenizer?.merges ?? '–'} merges${pretrainPreset.tokenizerSplit === 'words' ? ', words kept whole: a word is the same tokens in the text and in the answer' : ''}, [MASK] [gMASK] [sMASK] <sop> <eop> <pad> <unk>) |
| max sequence length | ${config.maxSequenceLength} |
| parameters | ${parameterCount.toLocaleString('en')} (${megabytes.toFixed(1)} MB in float32) |
| weights | ${weights} |

## Data

${datasets.map((d) => `- ${DATA_SOURCES[d] ?? d}`).join('\n')}

Training texts per dataset: ${preset.trainPerDataset ?? 'all'}. See each dataset's licence before
redistributing anything trained on it; this card names the data as the data's README asks.

## Training

| stage | what | steps | batch | peak lr | sequences | wall time |
| --- | --- | ---: | ---: | ---: | ---: | ---: |
| tokenizer | byte-level BPE on the training texts | – | – | – | ${state.tokenizer?.texts ?? '–'} texts | ${minutes(state.tokenizer?.wallMs)} |
| pretrain | GLM gMASK language modelling (prefix read bidirectionally, rest generated) | ${state.pretrain?.steps ?? '–'} | ${pretrainPreset.pretrain.batchSize * pretrainPreset.pretrain.accumulation} | ${pretrainPreset.pretrain.lr} | ${state.pretrain?.sequences ?? '–'} | ${minutes(state.pretrain?.wallMs)} |
${sftRows}| eval | constrained and free decoding on dev and test | – | ${report.examplesPerSplit ?? 'all'} per split | – | – | ${minutes(state.eval?.wallMs)} |

Hardware: ${state.hardware}. Wall time in all: ${minutes(totalMs)}${runs.length > 1 ? ' (with the earlier runs\' evaluations)' : ''}.
${budgetLine}
### Learning curves

Pretraining:

${curveTable(state.pretrain?.history ?? [])}

Fine-tuning${runStarts}:

${curveTable(sftHistory)}

Dev F1 (%) during fine-tuning: constrained greedy extraction of the first ${preset.devF1.perDataset} dev examples of each
dataset (at most ${preset.devF1.maxNewTokens} new tokens):

${devF1Table(runs)}

## Scores

Strict micro F1 (%) with schema- and span-constrained decoding (the default: valid answers, schema
types, mentions copied from the input at word boundaries) and without it ("free"), at most ${report.maxNewTokens} new tokens; ${report.examplesPerSplit === null ? 'every example' : `the first ${report.examplesPerSplit} examples`} of each split.${tagGuided}

${scoreRows.join('\n')}

## Use

\`\`\`bash
npx chatuie extract --model THIS_FOLDER --schema schema.json --text "..."
npx chatuie eval --model THIS_FOLDER --data ../shared/data/conll04/test.jsonl
\`\`\`

The prompt framing is ChatGLM-6B's: \`prompt [gMASK] <sop>\`, answers end with \`<eop>\`. The prompt is in
the compact style (\`"chatuie_prompt_style": "compact"\` in config.json): the schema lines and the
text, no instruction — the app, \`extract\`, \`eval\` and \`train sft\` read that key and prompt the
model the way it was trained. Fine-tuning it further keeps the style.
${tagUse}`;
}
