// The model card (README.md of the model folder, meant for public/models/<name>/) filled from a
// finished demo run: architecture and size, data, steps, wall time and hardware, dev/test scores
// per dataset, and the learning curves as a small table.

import type { HistoryPoint } from '../checkpoint.ts';
import type { GlmConfig } from '../../model/config.ts';
import { DEMO_DATASETS } from './config.ts';
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

/** The continued run's points, then this run's with their steps counted on from its last SFT step. */
function countedOn<T extends { step: number }>(state: PipelineState, previous: readonly T[], current: readonly T[]): T[] {
  const offset = state.warmStart?.previous.sft?.steps ?? 0;
  return [...previous, ...current.map((point) => ({ ...point, step: point.step + offset }))];
}

function devF1Table(state: PipelineState): string {
  const points = countedOn(state, state.warmStart?.previous.sftDevF1 ?? [], state.sftDevF1 ?? []);
  if (points.length === 0) return '(no dev-F1 points were recorded)';
  const header = ['| step |', ...DEMO_DATASETS.map((d) => ` ${d} entity F1 |`), ' conll04 relation F1 |'].join('');
  const lines = [header, `| ---: |${DEMO_DATASETS.map(() => ' ---: |').join('')} ---: |`];
  for (const point of points) {
    const cells = DEMO_DATASETS.map((d) => ` ${percent(point.datasets[d]?.entityF1 ?? null)} |`).join('');
    lines.push(`| ${point.step} |${cells} ${percent(point.datasets.conll04?.relationStrictF1 ?? null)} |`);
  }
  return lines.join('\n');
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
  const megabytes = (parameterCount * 4) / 1e6;
  const previous = state.warmStart?.previous;
  const firstSft = previous ? `| sft | IE answers, conll04 + wnut17 + resume-ner together, each under its own schema (run of preset "${previous.preset.name}") | ${previous.sft?.steps ?? '–'} | ${previous.preset.sft.batchSize * previous.preset.sft.accumulation} | ${previous.preset.sft.lr} | ${previous.sft?.sequences ?? '–'} | ${minutes(previous.sft?.wallMs)} |
` : '';
  const sftWhat = previous
    ? 'more SFT on the same data, from the model above: fresh AdamW, a new warmup + cosine schedule, another seed\'s batch order'
    : 'IE answers, conll04 + wnut17 + resume-ner together, each under its own schema';
  const sftHistory = countedOn(state, previous?.sft?.history ?? [], state.sft?.history ?? []);
  const pretrainPreset = previous?.preset ?? preset;
  const totalMs = [state.tokenizer?.wallMs, state.pretrain?.wallMs, previous?.sft?.wallMs, state.sft?.wallMs, previous?.eval?.wallMs, state.eval?.wallMs]
    .reduce<number>((sum, ms) => sum + (ms ?? 0), 0);
  return `# ChatUIE demo GLM (${preset.name})

A small GLM with the ChatGLM-6B architecture, trained from scratch by ChatUIE Web's own WebGPU
engine (\`npm run train:demo -- --preset ${preset.name}\`) to extract entities and relations as
JSON answers. It is a demonstration of the pipeline, not a competitive extractor.

## Architecture and size

| | |
| --- | --- |
| family | ChatGLM-6B (\`glm\`): prefix-LM attention mask, 2D rotary positions, DeepNorm post-LN residual (alpha = sqrt(56)), GeLU, tied embeddings |
| hidden size C | ${config.hiddenSize} |
| layers | ${config.numLayers} |
| heads × head dim | ${config.numHeads} × ${config.headDim} |
| MLP inner size | ${config.ffnHiddenSize} |
| vocabulary | ${config.vocabSize} (byte-level BPE, ${state.tokenizer?.merges ?? '–'} merges, [MASK] [gMASK] [sMASK] <sop> <eop> <pad> <unk>) |
| max sequence length | ${config.maxSequenceLength} |
| parameters | ${parameterCount.toLocaleString('en')} (${megabytes.toFixed(1)} MB in float32) |

## Data

${datasets.map((d) => `- ${DATA_SOURCES[d] ?? d}`).join('\n')}

Training texts per dataset: ${preset.trainPerDataset ?? 'all'}. See each dataset's licence before
redistributing anything trained on it; this card names the data as the data's README asks.

## Training

| stage | what | steps | batch | peak lr | sequences | wall time |
| --- | --- | ---: | ---: | ---: | ---: | ---: |
| tokenizer | byte-level BPE on the training texts | – | – | – | ${state.tokenizer?.texts ?? '–'} texts | ${minutes(state.tokenizer?.wallMs)} |
| pretrain | GLM gMASK language modelling (prefix read bidirectionally, rest generated) | ${state.pretrain?.steps ?? '–'} | ${pretrainPreset.pretrain.batchSize * pretrainPreset.pretrain.accumulation} | ${pretrainPreset.pretrain.lr} | ${state.pretrain?.sequences ?? '–'} | ${minutes(state.pretrain?.wallMs)} |
${firstSft}| sft | ${sftWhat} | ${state.sft?.steps ?? '–'} | ${preset.sft.batchSize * preset.sft.accumulation} | ${preset.sft.lr} | ${state.sft?.sequences ?? '–'} | ${minutes(state.sft?.wallMs)} |
| eval | constrained and free decoding on dev and test | – | ${report.examplesPerSplit ?? 'all'} per split | – | – | ${minutes(state.eval?.wallMs)} |

Hardware: ${state.hardware}. Wall time in all: ${minutes(totalMs)}${previous ? ` (with the first run's evaluation)` : ''}.

### Learning curves

Pretraining:

${curveTable(state.pretrain?.history ?? [])}

Fine-tuning${previous ? ` (steps after ${previous.sft?.steps ?? 0} are the continued run's)` : ''}:

${curveTable(sftHistory)}

Dev F1 (%) during fine-tuning: constrained greedy extraction of the first ${preset.devF1.perDataset} dev examples of each
dataset (at most ${preset.devF1.maxNewTokens} new tokens):

${devF1Table(state)}

## Scores

Strict micro F1 (%) with schema- and span-constrained decoding (the default: valid answers, schema
types, mentions copied from the input at word boundaries) and without it ("free"), at most ${report.maxNewTokens} new tokens; ${report.examplesPerSplit === null ? 'every example' : `the first ${report.examplesPerSplit} examples`} of each split.

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
`;
}
