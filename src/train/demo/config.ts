// Size presets of the demo-model pipeline (scripts/train-demo.ts): model shape, tokenizer,
// data limits, and the steps of each stage.
//
//   extra-small  the test's preset: a few dozen examples, a handful of steps per stage (SwiftShader, < 2 min)
//   tiny         runs on SwiftShader in about 5–8 minutes: C=32, 2 layers, vocabulary 600, the 16 shortest examples per dataset
//   small        the first run of the shipped model, trained on 2 CPU cores through SwiftShader in
//                about 1.5 hours: C=96, 3 layers, vocabulary 4000, about 0.45 epoch of SFT
//   small-continued  600 more SFT steps for a finished `small` model (shipped once in
//                public/models/chatuie-demo, about 1.8 hours more here): warm-started from its folder
//                (`--warm-start DIR`), fresh AdamW and schedule, another seed's batch order
//   small-continued-2  1,100 more SFT steps for a finished `small-continued` model, batches grouped
//                by length (about 1.5 hours here after the answer-row LM head and length grouping)
//   small-continued-3  1,200 more SFT steps for a finished `small-continued` model, batches grouped
//                by length, every answer token weighted the same in every step (SftTrainer's fixed
//                token weight; small-continued-2 ran before it, with each step's own token mean)
//   small-continued-4  1,200 more SFT steps for a finished `small-continued-3` model at a lower peak
//                learning rate (1e-3: each re-warmup to 1.5e-3 first cost dev loss), batches grouped by length
//   small-continued-5  shipped before -7: small-continued-4's settings with conll04 (English news, the first thing a new
//                user pastes) three times per epoch: 28% of the SFT examples instead of 11%
//   small-continued-6  300 more SFT steps for a finished `small-continued-5` model with the constrained
//                loss: each answer token's softmax over the tokens constrained decoding may write there
//   small-continued-7  shipped in session 9: small-continued-6 with the constrained loss on half the sequences
//   small-continued-8  300 more SFT steps for a finished `small-continued-7` model, constrained loss on 80%
//   small-continued-9  the shipped model: 300 more SFT steps for a finished `small-continued-7` model at its share, 0.5
//   small-continued-10  the same for a finished `small-continued-9` model
//   small-continued-11  small-continued-10 with mention replacement (ie/augment.ts) in every copy of the training set
//   small-continued-12  small-continued-10 with the relation rule in the constrained loss's masks (seed 13)
//   small-continued-13  300 more steps for a finished small-continued-12 model as it was trained, with hidden dropout 0.1 (seed 14)
//   small-continued-14  300 more steps for a finished small-continued-12 model as it was trained, conll04 six times per epoch (seed 15)
//   small-continued-15  300 more steps for a finished small-continued-12 model as it was trained, a quarter of them gMASK LM on the training texts + CASIE (seed 17)
//   small-continued-16  600 more steps for a finished small-continued-12 model as it was trained, a quarter of the sequences the tagged-text task (seed 18)
//   small-continued-17  600 more steps for a finished small-continued-12 model as it was trained at peak 1.5e-3, half the sequences the synthetic copy task (seed 19; stopped at step 357)
//   small-continued-18  300 steps of 16 for a finished small-continued-12 model on the copy task alone (seed 20; stopped at step 212)
//   small-continued-19  600 more steps for a finished small-continued-12 model as it was trained, with the prompt-tag task (ie/prompt-tags.ts) on every IE sequence (seed 31)
//   small-continued-20  300 more steps for a finished small-continued-19 model, the tag loss at weight 1.0 (seed 41; shipped in session 25)
//   small-continued-21  300 more steps for a finished small-continued-20 model, the tag loss at weight 2.0 (seed 51; not shipped)
//   small-continued-22  300 more steps for a finished small-continued-20 model as it was trained, at half the peak learning rate (5e-4, seed 61; not shipped)
//   small-balanced  a fresh small model with the balanced residual (train/residual-balance.ts), 500 SFT steps
//   small-balanced-2  small-balanced at cool peaks, a token of pretraining, 2200 SFT steps, copy runs of 8-16 (stopped at step 569: its answers collapsed)
//   small-balanced-3  small-balanced-2 at 0.4 of the balance (s = 60), 1,400 SFT steps, a fifth copy runs (ran to the end: stable, no copy, behind the shipped model; not shipped)
//   small-words  small-balanced-3 with the tokenizer that keeps words whole (a mention is the same tokens in text and answer) and mimetic attention, 1,000 SFT steps (stopped at step 365: its answers collapsed)
//   small-words-2  small-words without the balance (the format's residual), 60 pretraining steps at 3e-3, 800 SFT steps (seed 25)
//   small-copy   words tokenizer, mimetic heads, s ≈ 20, 60 pretraining steps, then the copy task alone, 400 steps of 16 (seed 26; stopped at step 396: the copy stalled)
//   small-copy-2 small-copy with no pretraining: the copy task alone on the fresh weights (seed 27; copies the first answer token 100%)
//   small-copy-ie  the IE task for a finished small-copy-2 model, 1,200 SFT steps, 30% copy runs (seed 28; ran to the end: kept the copy, behind the shipped model; not shipped)
//   small-induct  small-copy-ie's IE recipe from scratch on a fresh model with the induction circuit built in (train/induction-init.ts), 30% span-copy runs (seed 30)
//   demo         the intended real-GPU run: C=256, 4 layers, vocabulary 8000 (≈4.7M parameters, ≈19 MB in f32)
//   demo-device  the demo model in one command of the device tool (10 minutes at most, 15 of device time
//                in all): pretraining and SFT each get a wall-clock budget (budget.ts), evaluation
//                the first 100 examples per split, weights shipped in f16 (≈9.4 MB)
//   tiny-device  tiny with demo-device's budgets scaled down: the SwiftShader rehearsal of the device run
//                (scripts/device/rehearse.sh)
//
// Legend: C = hiddenSize, F = ffnHiddenSize (ChatGLM-6B's inner_hidden_size), V = vocabSize.

import { parseGlmConfig, type GlmConfig } from '../../model/config.ts';
import { PROMPT_STYLE_CONFIG_KEY } from '../../ie/prompt.ts';
import type { Tokenizer } from '../../io/tokenizer.ts';
import type { BpeSplit } from '../../io/bpe-trainer.ts';
import type { RecommendedTagScales } from '../../ie/tag-label.ts';
import { balancedOutputScale, withSublayerOutputScales } from '../residual-balance.ts';

/** The datasets of ../shared/data the pipeline trains and evaluates on. */
export const DEMO_DATASETS = ['conll04', 'wnut17', 'resume-ner'] as const;
export type DemoDataset = (typeof DEMO_DATASETS)[number];

export interface DemoModelShape {
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  ffnHiddenSize: number;
  /**
   * Tokenizer vocabulary asked for (bytes + merges + special tokens); the model's V is what the
   * tokenizer reached (less when the texts ran out of pairs), since the decoding masks need them equal.
   */
  vocabSize: number;
  maxSequenceLength: number;
  /** Standard deviation of the random normal initialization of every matrix. */
  initStd: number;
  /**
   * The balanced residual (train/residual-balance.ts), as a fraction f of its full scale: the sublayer
   * output projections start at f · alpha / initStd times the init and train at that times the
   * learning rate, here and in every fine-tune after (config.json carries the scale). 1 is the full
   * balance of session 16; absent: off (the models before session 16).
   */
  balancedResidual?: number;
  /**
   * Mimetic attention init (train/mimetic-init.ts): how strongly each head's key projection starts
   * as its query projection (qk) and its output projection as its value projection transposed (vo),
   * each in [0, 1]. Absent: plain random heads.
   */
  mimetic?: { qk: number; vo: number };
  /**
   * The hand-built induction circuit (train/induction-init.ts) in layers 0 and 1, with its options
   * (the layer-1 match scale, layer 0's write into S, layer 1's copy in units of alpha); the later
   * layers and every other sublayer output start at zero. Built after the mimetic init if both are
   * given. Absent: the layers start as the other options make them.
   */
  inductionCircuit?: { match: number; write: number; copy: number };
}

export interface DemoStageSteps {
  /** Optimizer steps; 0 for pretraining skips it (the stage writes the initial weights, SFT starts from them). */
  steps: number;
  batchSize: number;
  accumulation: number;
  lr: number;
  /** Save a resumable checkpoint every N steps (the stage's end always saves). */
  checkpointEvery: number;
  /** Dev loss every N steps (0: never). */
  evalEvery: number;
  /** Length-grouped batches over windows of this many steps (SftOptions.groupByLength; absent: off). */
  groupByLength?: number;
  /** Hidden dropout during the stage's training steps (SftOptions.hiddenDropout; absent: none). */
  hiddenDropout?: number;
  /**
   * A wall-clock budget for the stage's optimizer steps (budget.ts): the run times a few throwaway
   * steps and trains min(steps, what the budget holds), with the schedule of that many steps.
   * Dev loss, dev F1 and checkpoints come on top. Absent: exactly `steps`.
   */
  minutes?: number;
}

export interface DemoPreset {
  name: 'extra-small' | 'tiny' | 'tiny-device' | 'small' | 'small-continued' | 'small-continued-2' | 'small-continued-3' | 'small-continued-4' | 'small-continued-5' | 'small-continued-6' | 'small-continued-7' | 'small-continued-8' | 'small-continued-9' | 'small-continued-10' | 'small-continued-11' | 'small-continued-12' | 'small-continued-13' | 'small-continued-14' | 'small-continued-15' | 'small-continued-16' | 'small-continued-17' | 'small-continued-18' | 'small-continued-19' | 'small-continued-20' | 'small-continued-21' | 'small-continued-22' | 'small-balanced' | 'small-balanced-2' | 'small-balanced-3' | 'small-words' | 'small-words-2' | 'small-copy' | 'small-copy-2' | 'small-copy-ie' | 'small-induct' | 'demo' | 'demo-device';
  /**
   * A preset that continues another one's SFT: the run must be warm-started (--warm-start) from a
   * finished model folder of that preset, whose tokenizer, pretraining and model it takes over.
   */
  continues?: DemoPreset['name'];
  model: DemoModelShape;
  /** Training examples per dataset for pretraining and SFT (null: all); the tokenizer always sees every training text. */
  trainPerDataset: number | null;
  /**
   * Take the shortest examples (by text length) instead of the first ones, for training and
   * evaluation: the SwiftShader presets, where every token costs.
   */
  pickShortest: boolean;
  /** Dev examples per dataset for the dev loss (SFT) and the held-out LM loss (pretraining). */
  devLossPerDataset: number;
  /**
   * The tokenizer's pre-tokenizer split (io/bpe-trainer.ts): words, where a word is the same tokens
   * in the text and in the answer (its mentions can be copied token by token), or glm4 (absent; a
   * word takes the space or quote before it, so a mention's first word is other tokens in the answer).
   */
  tokenizerSplit?: BpeSplit;
  /** Also use CASIE's training texts (English cybersecurity news) for the tokenizer and pretraining. */
  pretrainOnCasie: boolean;
  /** Pretraining texts are cut to this many tokens. */
  pretrainMaxTokens: number;
  pretrain: DemoStageSteps;
  sft: DemoStageSteps;
  /**
   * Dev F1 during SFT (the learning curve of the model card): constrained greedy extraction of
   * the first `perDataset` dev examples of each dataset every `every` steps and at the end (0: never).
   */
  devF1: { every: number; perDataset: number; maxNewTokens: number };
  eval: {
    /** Examples per dataset and split (null: all). */
    examplesPerSplit: number | null;
    maxNewTokens: number;
    batchSize: number;
  };
  seed: number;
  /**
   * The dtype of the model folder's weights (the card stage); the eval stage scores the weights
   * rounded to it, so the scores are those of the shipped file. Absent: F32.
   */
  weightsDtype?: 'F16';
  /** SFT sees each training example of these datasets this many times per epoch (absent: once). */
  sftRepeats?: Partial<Record<DemoDataset, number>>;
  /**
   * The constrained SFT loss (ie/loss-masks.ts): each answer token's softmax runs over the tokens the
   * decoding constraint allows at its position, not the whole vocabulary. Its dev loss is not
   * comparable with a plain-loss run's. Absent: the plain loss.
   */
  sftConstrainedLoss?: boolean;
  /**
   * With sftConstrainedLoss, the mixed loss: the share (0..1] of the training sequences (each
   * repeat counted) that carry the masks, spread evenly (ie/loss-masks.ts keepAnswerMasksOnShare);
   * the others, and the dev loss, use the plain loss, so the dev loss compares with plain runs'.
   * Absent: every sequence, dev loss included, is constrained.
   */
  sftConstrainedShare?: number;
  /**
   * Mention replacement (ie/augment.ts): in every copy of the SFT training set (each repeat its
   * own), each distinct entity text of an example is replaced with this probability by another
   * training mention of the same type. Absent: the examples as annotated.
   */
  sftMentionReplacement?: number;
  /**
   * GLM gMASK language modelling mixed into SFT: training texts (of the three datasets, and of
   * CASIE with `casie`), each cut to pretrainMaxTokens and framed as in pretraining, make up
   * `share` of the SFT training sequences (drawn in a seeded order, each text at most once per
   * epoch). The prompt is read bidirectionally and never carries a loss in SFT; this gives its
   * words a direct signal. Absent: SFT trains the IE answers only.
   */
  sftLanguageModelling?: { share: number; casie: boolean };
  /**
   * The tagged-text auxiliary task (ie/tagged-text.ts) mixed into SFT: training examples of the
   * three datasets (a seeded draw, each at most once per epoch), their text written back with every
   * entity bracketed with its type, make up `share` of the SFT training sequences. Every answer token
   * is a word of the text or an entity boundary; the JSON answers learn boundaries from a few
   * tokens per mention. Absent: SFT trains the IE answers only.
   */
  sftTaggedText?: { share: number };
  /**
   * The synthetic copy task (train/copy-task.ts) mixed into SFT: runs of uniformly random ordinary
   * tokens, between minTokens and maxTokens long, written back verbatim, make up `share` of the SFT
   * training sequences (fresh runs, drawn from the seed). A mention's tokens after its first are
   * the input's next tokens, which the IE task alone does not teach a small model to copy; random
   * tokens can only be predicted by copying. Share 1: the copy task alone, one pass of the stage's
   * steps × batch sequences; the IE examples then serve the dev loss and dev F1 only. Absent: SFT
   * trains the IE answers only. `span`: each answer is that many tokens of its run from an offset of
   * at least 1 (SyntheticCopyOptions.span), which takes an induction head where the whole run can be
   * copied by position; absent: the whole run.
   */
  sftSyntheticCopy?: { share: number; minTokens: number; maxTokens: number; span?: number };
  /**
   * The prompt-tag task (ie/prompt-tags.ts) on every IE training sequence: each text token of the
   * prompt predicts its BIO tag (begins an entity of type T, inside one, outside) from its own final
   * hidden state, a softmax over the tag tokens only, with `weight` the loss weight of a tag row
   * relative to an answer token's and `negatives` outside rows drawn per tagged row. The JSON answer
   * teaches where an entity starts through a few tokens per example; this labels every mention
   * token of the text the model reads. Dev sequences carry no tags (the dev loss stays comparable).
   * The trained model records its tag tokens in config.json (ie/prompt-tags.ts, PROMPT_TAGS_CONFIG_KEY).
   * `decodingBias`: the tag-guided decoding λ (ie/tag-bias.ts) the shipped model recommends in its
   * config.json — what the eval stage, `chatuie extract|eval` and the app decode with by default —
   * chosen on dev examples; it changes nothing in training. `decodingEndBias`: the λ_end inside a
   * mention (ie/tag-bias.ts, mentionEndScore), `decodingListBias`: the λ_list on how many
   * mentions each entity list holds, and `decodingSkipBias`: the λ_skip on each entity type an
   * answer passes over (both ie/tag-list-bias.ts) it recommends the same way. Absent: no prompt row
   * carries a loss.
   */
  sftPromptTags?: { weight: number; negatives: number } & RecommendedTagScales;
}

/** The SwiftShader smoke preset; tiny-device is it with budgets. */
const TINY: DemoPreset = {
  name: 'tiny',
  model: { hiddenSize: 32, numLayers: 2, numHeads: 2, ffnHiddenSize: 64, vocabSize: 600, maxSequenceLength: 640, initStd: 0.05 },
  trainPerDataset: 16,
  pickShortest: true,
  devLossPerDataset: 2,
  pretrainOnCasie: false,
  pretrainMaxTokens: 32,
  pretrain: { steps: 6, batchSize: 4, accumulation: 1, lr: 1e-2, checkpointEvery: 3, evalEvery: 0 },
  sft: { steps: 8, batchSize: 2, accumulation: 1, lr: 1e-2, checkpointEvery: 4, evalEvery: 4 },
  devF1: { every: 4, perDataset: 2, maxNewTokens: 16 },
  eval: { examplesPerSplit: 2, maxNewTokens: 16, batchSize: 2 },
  seed: 1,
};

const DEMO_TOKENIZER_SPLIT: BpeSplit = 'words';

/** The intended real-GPU run with fixed step counts; demo-device is it with budgets. */
const DEMO: DemoPreset = {
  name: 'demo',
  // The balanced residual at 0.4 of its full scale (train/residual-balance.ts; docs/demo-model.md,
  // "The full balance collapses the IE task"): without it no run of the ChatGLM-6B format learned to
  // copy its input here; with all of it the IE answers collapsed to their unigram distribution; 0.4
  // (s ≈ 150 here, the init shares of the small shape's s = 60) did neither on this machine.
  // No mimetic attention (train/mimetic-init.ts): with the balance it copies sooner on the toy but
  // collapsed the IE answers at the small shape, and without the balance it did not copy
  // (docs/demo-model.md, "Mimetic attention").
  model: { hiddenSize: 256, numLayers: 4, numHeads: 4, ffnHiddenSize: 768, vocabSize: 8000, maxSequenceLength: 512, initStd: 0.02, balancedResidual: 0.4 },
  // Words kept whole: with the GLM-4 split, 94% of conll04's mentions are other tokens in the answer
  // than in the text, so no copy could write them (docs/demo-model.md, "A mention's first word").
  tokenizerSplit: DEMO_TOKENIZER_SPLIT,
  trainPerDataset: null,
  pickShortest: false,
  devLossPerDataset: 64,
  pretrainOnCasie: true,
  pretrainMaxTokens: 128,
  pretrain: { steps: 4000, batchSize: 32, accumulation: 1, lr: 1e-3, checkpointEvery: 250, evalEvery: 250 },
  sft: { steps: 6000, batchSize: 16, accumulation: 1, lr: 5e-4, checkpointEvery: 250, evalEvery: 250, groupByLength: 16 },
  devF1: { every: 500, perDataset: 64, maxNewTokens: 256 },
  eval: { examplesPerSplit: null, maxNewTokens: 256, batchSize: 16 },
  seed: 1,
};

/** The shipped model's first run; small-continued differs only in its SFT (and continues it). */
const SMALL: DemoPreset = {
  name: 'small',
  model: { hiddenSize: 96, numLayers: 3, numHeads: 4, ffnHiddenSize: 256, vocabSize: 4000, maxSequenceLength: 512, initStd: 0.05 },
  trainPerDataset: null,
  pickShortest: false,
  devLossPerDataset: 16,
  pretrainOnCasie: false,
  pretrainMaxTokens: 64,
  pretrain: { steps: 120, batchSize: 16, accumulation: 1, lr: 3e-3, checkpointEvery: 20, evalEvery: 40 },
  sft: { steps: 450, batchSize: 8, accumulation: 1, lr: 2e-3, checkpointEvery: 20, evalEvery: 50 },
  devF1: { every: 75, perDataset: 16, maxNewTokens: 96 },
  eval: { examplesPerSplit: 25, maxNewTokens: 128, batchSize: 25 },
  seed: 1,
};

/** A preset that continues a finished small-shaped model: SMALL but for its SFT, dev-F1 interval and seed. */
function continuedSmall(name: DemoPreset['name'], continues: DemoPreset['name'], sft: Partial<DemoStageSteps>, devF1Every: number, seed: number): DemoPreset {
  // Key order as {...SMALL, name, continues, ...}: a run's pipeline.json compares presets as JSON on --resume.
  return { ...SMALL, name, continues, sft: { ...SMALL.sft, ...sft }, devF1: { ...SMALL.devF1, every: devF1Every }, seed };
}

/**
 * 300 SFT steps (lr 1e-3, length-grouped, conll04 three times per epoch) for a finished
 * small-shaped model with the constrained loss: on every sequence, or on `share` of them (the mixed loss).
 */
function constrainedLossRun(name: DemoPreset['name'], continues: DemoPreset['name'], seed: number, share?: number): DemoPreset {
  const run: DemoPreset = {
    ...continuedSmall(name, continues, { steps: 300, lr: 1e-3, groupByLength: 16 }, 300, seed),
    sftRepeats: { conll04: 3 },
    sftConstrainedLoss: true,
  };
  return share === undefined ? run : { ...run, sftConstrainedShare: share };
}

// A fresh small model with the balanced residual (train/residual-balance.ts): SMALL's shape and
// pretraining, then the shipped chain's last SFT recipe (mixed loss at 0.5, conll04 three times per
// epoch, length grouping) with a quarter of the sequences the synthetic copy task, seed 21.
const SMALL_BALANCED: DemoPreset = {
  ...SMALL,
  name: 'small-balanced',
  model: { ...SMALL.model, balancedResidual: 1 },
  sft: { ...SMALL.sft, steps: 500, groupByLength: 16 },
  devF1: { ...SMALL.devF1, every: 250 },
  seed: 21,
  sftRepeats: { conll04: 3 },
  sftConstrainedLoss: true,
  sftConstrainedShare: 0.5,
  sftSyntheticCopy: { share: 0.25, minTokens: 8, maxTokens: 32 },
};

// small-balanced for a whole CPU session: the cool peaks the balanced model needs (the docs' LM
// table), pretraining cut to a warm-up of the embeddings (its tokens cost twice SFT's here, and the
// IE answers are where copying pays), 2,200 SFT steps, the copy runs shortened to 8-16 tokens.
const SMALL_BALANCED_2: DemoPreset = {
  ...SMALL_BALANCED,
  name: 'small-balanced-2',
  pretrain: { ...SMALL.pretrain, steps: 40, lr: 1e-3 },
  sft: { ...SMALL.sft, steps: 2200, lr: 1.5e-3, groupByLength: 16, checkpointEvery: 50, evalEvery: 100 },
  devF1: { ...SMALL.devF1, every: 600 },
  seed: 22,
  sftSyntheticCopy: { share: 0.25, minTokens: 8, maxTokens: 16 },
};

// small-balanced-2 at 0.4 of the balance (s = 60), the scale that trained the IE task in 500
// steps, for the rest of a session: 1,400 SFT steps, a fifth of the sequences copy runs.
const SMALL_BALANCED_3: DemoPreset = {
  ...SMALL_BALANCED_2,
  name: 'small-balanced-3',
  model: { ...SMALL.model, balancedResidual: 0.4 },
  sft: { ...SMALL_BALANCED_2.sft, steps: 1400 },
  devF1: { ...SMALL_BALANCED_2.devF1, every: 700 },
  seed: 23,
  sftSyntheticCopy: { share: 0.2, minTokens: 8, maxTokens: 16 },
};

const MIMETIC_HEADS = { qk: 1, vo: 1 };

// small-balanced-3 with the tokenizer that keeps words whole and mimetic heads, 1,000 SFT steps.
const SMALL_WORDS: DemoPreset = {
  ...SMALL_BALANCED_3,
  name: 'small-words',
  model: { ...SMALL_BALANCED_3.model, mimetic: MIMETIC_HEADS },
  tokenizerSplit: 'words',
  sft: { ...SMALL_BALANCED_3.sft, steps: 1000 },
  devF1: { ...SMALL_BALANCED_3.devF1, every: 500 },
};

// Copy first (session 20): a fresh small model with the words tokenizer, mimetic heads and a third of
// small-balanced-3's balance (s ≈ 20, where the IE answers did not collapse in 150 steps and the copy
// toy copied sooner than at 60), 60 pretraining steps, then the copy task alone (400 steps of 16 runs
// of 8–16 random tokens at peak 3e-3, the toy's recipe). Stopped at step 396: after the pretraining
// the copy loss stayed near 7.95 nats, where the toy's fresh model reached 5.4 (docs/demo-model.md,
// "Copy first"). Its evaluation would only be a smoke check: the model has not seen the IE task.
const COPY_FIRST_BALANCE = 0.1336;
const SMALL_COPY: DemoPreset = {
  ...SMALL_WORDS,
  name: 'small-copy',
  model: { ...SMALL.model, balancedResidual: COPY_FIRST_BALANCE, mimetic: MIMETIC_HEADS },
  pretrain: { ...SMALL.pretrain, steps: 60 },
  sft: { ...SMALL.sft, steps: 400, batchSize: 16, lr: 3e-3, checkpointEvery: 50, evalEvery: 100 },
  devF1: { ...SMALL.devF1, every: 0 },
  eval: { ...SMALL.eval, examplesPerSplit: 2 },
  seed: 26,
  sftSyntheticCopy: { share: 1, minTokens: 8, maxTokens: 16 },
};

// small-copy without its pretraining (session 21): the copy task alone on the fresh weights, mimetic
// heads and all, as the toy trained it (5.4 nats by step 400 at s = 20; 100% top-1 on the first
// answer token), seed 27. The first half of the copy-first chain; small-copy-ie is the second.
const SMALL_COPY_2: DemoPreset = {
  ...SMALL_COPY,
  name: 'small-copy-2',
  pretrain: { ...SMALL_COPY.pretrain, steps: 0 },
  seed: 27,
};

// The copy-first chain's second half (session 21): the IE task for a finished small-copy-2 model,
// small-balanced-3's SFT recipe (peak 1.5e-3, length grouping, conll04 three times per epoch, the
// mixed constrained loss at 0.5) for 1,200 steps, with 30% of the sequences copy runs of 8–16 tokens:
// in session 20's 300-step runs the copy survived the IE task with a fifth of copy runs and was gone
// without them. Seed 28. Ran to the end (docs/demo-model.md, "Copy first, then the IE task"): the copy
// survived and the mentions depend on their text 4x the shipped model's gap, but conll04 dev F1 5.8.
const SMALL_COPY_IE: DemoPreset = {
  ...SMALL_BALANCED_3,
  name: 'small-copy-ie',
  continues: 'small-copy-2',
  model: SMALL_COPY_2.model,
  tokenizerSplit: SMALL_COPY_2.tokenizerSplit,
  sft: { ...SMALL_BALANCED_3.sft, steps: 1200 },
  devF1: { ...SMALL_BALANCED_3.devF1, every: 600 },
  seed: 28,
  sftSyntheticCopy: { share: 0.3, minTokens: 8, maxTokens: 16 },
};

// The induction circuit by construction (session 22): small-copy-ie's IE recipe (small-balanced-3's SFT
// at s = 20, length grouping, conll04 three times per epoch, the mixed constrained loss at 0.5; 1,200
// steps) from scratch on a fresh model whose layers 0 and 1 are a hand-built induction circuit
// (train/induction-init.ts: from the first step, it writes the prompt's next token after a token of
// the prompt), the other sublayer outputs at zero, no pretraining. 30% of the sequences are copy runs
// of 8–16 tokens with 4-token span answers, which only the circuit predicts, so the IE task does not
// wear it away unused. Seed 30. Ran to the end (docs/demo-model.md, "An induction circuit by
// construction"): it copies mentions from its text (continuations 69% top-1, 8.6 nats with another
// text) and halves small-copy-ie's dev loss, but a mention's first token is 0% top-1 and conll04 dev
// F1 2.7; not shipped.
const SMALL_INDUCT: DemoPreset = {
  ...SMALL_BALANCED_3,
  name: 'small-induct',
  model: { ...SMALL.model, balancedResidual: COPY_FIRST_BALANCE, inductionCircuit: { match: 4, write: 8, copy: 3 } },
  tokenizerSplit: 'words',
  pretrain: { ...SMALL_BALANCED_3.pretrain, steps: 0 },
  sft: { ...SMALL_BALANCED_3.sft, steps: 1200 },
  devF1: { ...SMALL_BALANCED_3.devF1, every: 600 },
  seed: 30,
  sftSyntheticCopy: { share: 0.3, minTokens: 8, maxTokens: 16, span: 4 },
};

// The shipped model's last run (its comment in DEMO_PRESETS); small-continued-22 varies it.
const SMALL_CONTINUED_20: DemoPreset = (() => {
  const run = constrainedLossRun('small-continued-20', 'small-continued-19', 41, 0.5);
  return { ...run, devF1: { ...run.devF1, every: 150 }, sftPromptTags: { weight: 1, negatives: 2, decodingBias: 2, decodingEndBias: 2, decodingListBias: 2, decodingSkipBias: 1 } };
})();

export const DEMO_PRESETS: Record<DemoPreset['name'], DemoPreset> = {
  'extra-small': {
    name: 'extra-small',
    model: { hiddenSize: 16, numLayers: 1, numHeads: 2, ffnHiddenSize: 32, vocabSize: 400, maxSequenceLength: 640, initStd: 0.1 },
    trainPerDataset: 2,
    pickShortest: true,
    devLossPerDataset: 1,
    pretrainOnCasie: false,
    pretrainMaxTokens: 24,
    pretrain: { steps: 2, batchSize: 4, accumulation: 1, lr: 2e-2, checkpointEvery: 1, evalEvery: 0 },
    sft: { steps: 3, batchSize: 6, accumulation: 1, lr: 2e-2, checkpointEvery: 2, evalEvery: 0 },
    devF1: { every: 2, perDataset: 1, maxNewTokens: 8 },
    eval: { examplesPerSplit: 1, maxNewTokens: 8, batchSize: 1 },
    seed: 1,
  },
  tiny: TINY,
  small: SMALL,
  'small-continued': continuedSmall('small-continued', 'small', { steps: 600, lr: 1.5e-3 }, 100, 2),
  'small-continued-2': continuedSmall('small-continued-2', 'small-continued', { steps: 1100, lr: 1.5e-3, groupByLength: 16 }, 250, 3),
  'small-continued-3': continuedSmall('small-continued-3', 'small-continued', { steps: 1200, lr: 1.5e-3, groupByLength: 16 }, 300, 4),
  'small-continued-4': continuedSmall('small-continued-4', 'small-continued-3', { steps: 1200, lr: 1e-3, groupByLength: 16 }, 300, 5),
  'small-continued-5': { ...continuedSmall('small-continued-5', 'small-continued-3', { steps: 1200, lr: 1e-3, groupByLength: 16 }, 300, 6), sftRepeats: { conll04: 3 } },
  'small-continued-6': constrainedLossRun('small-continued-6', 'small-continued-5', 7),
  // small-continued-6's constrained loss on half the sequences, the plain loss on the rest.
  'small-continued-7': constrainedLossRun('small-continued-7', 'small-continued-5', 8, 0.5),
  // 300 more steps for a finished small-continued-7 model, the constrained loss on 80% of the sequences.
  'small-continued-8': constrainedLossRun('small-continued-8', 'small-continued-7', 9, 0.8),
  // 300 more steps for a finished small-continued-7 model at its own share (0.5), another seed's batch order.
  'small-continued-9': constrainedLossRun('small-continued-9', 'small-continued-7', 10, 0.5),
  // The same again for a finished small-continued-9 model, seed 11.
  'small-continued-10': constrainedLossRun('small-continued-10', 'small-continued-9', 11, 0.5),
  // small-continued-10's run (300 steps from a finished small-continued-9 model, mixed loss at 0.5)
  // with mention replacement at 0.5 in every copy of the training set, seed 12.
  'small-continued-11': { ...constrainedLossRun('small-continued-11', 'small-continued-9', 12, 0.5), sftMentionReplacement: 0.5 },
  // small-continued-10's run again (seed 13) with the relation rule in the constraint, and so in the
  // constrained loss's masks: a relation argument's softmax runs over the entities the answer named.
  'small-continued-12': constrainedLossRun('small-continued-12', 'small-continued-9', 13, 0.5),
  // small-continued-12's run for a finished small-continued-12 model (seed 14) with hidden dropout
  // 0.1 on the attention and MLP outputs: the model's train loss sits far below its dev loss.
  'small-continued-13': (() => {
    const run = constrainedLossRun('small-continued-13', 'small-continued-12', 14, 0.5);
    return { ...run, sft: { ...run.sft, hiddenDropout: 0.1 } };
  })(),
  // small-continued-12's run for a finished small-continued-12 model (seed 15) with conll04 (English
  // news, what a new user pastes first) six times per epoch: 43% of the SFT examples instead of 28%.
  'small-continued-14': { ...constrainedLossRun('small-continued-14', 'small-continued-12', 15, 0.5), sftRepeats: { conll04: 6 } },
  // small-continued-12's run for a finished small-continued-12 model (seed 17) with a quarter of the
  // SFT sequences gMASK language modelling on the training texts with CASIE's English news: its
  // pretraining was 120 steps (loss 6.2), and SFT puts no loss on the text it reads.
  'small-continued-15': { ...constrainedLossRun('small-continued-15', 'small-continued-12', 17, 0.5), sftLanguageModelling: { share: 0.25, casie: true } },
  // small-continued-12's run for a finished small-continued-12 model (seed 18), twice as long, with a
  // quarter of the SFT sequences the tagged-text task: most of its errors are mention boundaries.
  'small-continued-16': (() => {
    const run = constrainedLossRun('small-continued-16', 'small-continued-12', 18, 0.5);
    return { ...run, sft: { ...run.sft, steps: 600 }, devF1: { ...run.devF1, every: 200 }, sftTaggedText: { share: 0.25 } };
  })(),
  // small-continued-12's run for a finished small-continued-12 model (seed 19), twice as long at a
  // higher peak, with the SFT set doubled by the synthetic copy task (runs of 8–32 random tokens
  // written back): the model cannot copy its input (bench/answer-roles.bench.ts: a mention's next
  // token 10% top-1), and random tokens can only be predicted by copying. Stopped at step 357
  // (docs/demo-model.md): its copy loss had not left the plateau at ln V.
  'small-continued-17': (() => {
    const run = constrainedLossRun('small-continued-17', 'small-continued-12', 19, 0.5);
    return { ...run, sft: { ...run.sft, steps: 600, lr: 1.5e-3 }, devF1: { ...run.devF1, every: 200 }, sftSyntheticCopy: { share: 0.5, minTokens: 8, maxTokens: 32 } };
  })(),
  // The copy task alone: 300 steps of 16 for a finished small-continued-12 model at peak 2e-3 (seed
  // 20), the IE examples for the dev loss only; stopped at step 212 (docs/demo-model.md).
  'small-continued-18': { ...continuedSmall('small-continued-18', 'small-continued-12', { steps: 300, batchSize: 16, lr: 2e-3 }, 300, 20), sftSyntheticCopy: { share: 1, minTokens: 8, maxTokens: 32 } },
  // small-continued-12's run for a finished small-continued-12 model (seed 31), twice as long, with the
  // prompt-tag task on every IE sequence (weight 0.5, two outside rows per tagged row): a mention's
  // first token, the choice entity F1 rests on, is 8.6% top-1 for the shipped model and barely
  // depends on its text (6.9% with another example's). The model recommends tag-guided decoding at
  // λ 2 (chosen on dev examples 1–50 of conll04 and wnut17, bench/tag-bias.bench.ts).
  'small-continued-19': (() => {
    const run = constrainedLossRun('small-continued-19', 'small-continued-12', 31, 0.5);
    return { ...run, sft: { ...run.sft, steps: 600 }, devF1: { ...run.devF1, every: 200 }, sftPromptTags: { weight: 0.5, negatives: 2, decodingBias: 2 } };
  })(),
  // small-continued-19's recipe for 300 more steps from a finished small-continued-19 model, the tag
  // loss at twice the weight (1.0), seed 41: does a stronger tagger make tag-guided decoding better?
  // It recommends λ 2, λ_end 2 (the I tags inside a mention, chosen on dev examples 1–100 of
  // conll04 and resume-ner and confirmed on whole dev splits, session 25) and λ_list 2 (each entity
  // list's end, chosen and confirmed the same way, session 26) and λ_skip 1 (each entity type an
  // answer passes over, chosen on dev examples 1–100 of all three sets and confirmed on whole dev
  // splits, session 27); these change nothing in training.
  'small-continued-20': SMALL_CONTINUED_20,
  // small-continued-20's recipe for 300 more steps from a finished small-continued-20 model, the tag
  // loss at twice its weight again (2.0), seed 51: does the tagger, and with it the decoding, keep
  // improving? Not on whole dev splits at -20's λ 2 and λ_end 2 (mean 23.5 → 22.7; not shipped).
  'small-continued-21': (() => {
    const run = constrainedLossRun('small-continued-21', 'small-continued-20', 51, 0.5);
    return { ...run, devF1: { ...run.devF1, every: 150 }, sftPromptTags: { weight: 2, negatives: 2, decodingBias: 2, decodingEndBias: 2 } };
  })(),
  // small-continued-20's recipe for 300 more steps from a finished small-continued-20 model at half
  // its peak learning rate (5e-4), seed 61: a cool-down of the shipped model rather than another
  // re-warmup to 1e-3, decoded at -20's four scales. Its plain dev loss was the chain's lowest
  // (2.32 → 2.30), its first 100 dev examples worse (mean 22.9 → 21.1; session 28): not shipped.
  'small-continued-22': {
    ...SMALL_CONTINUED_20,
    name: 'small-continued-22',
    continues: 'small-continued-20',
    sft: { ...SMALL_CONTINUED_20.sft, lr: SMALL_CONTINUED_20.sft.lr / 2 },
    seed: 61,
  },
  'small-balanced': SMALL_BALANCED,
  'small-balanced-2': SMALL_BALANCED_2,
  // small-balanced-2 at 0.4 of the balance (s = 60 for this shape): the full balance collapsed the
  // IE task to the answers' unigram distribution, and 0.4 of it learned the task faster than the
  // format in 150- and 500-step runs and started to copy the toy (docs/demo-model.md). 1,400 SFT
  // steps fit a session here with its evaluation; a fifth of the sequences copy runs, seed 23.
  'small-balanced-3': SMALL_BALANCED_3,
  'small-words': SMALL_WORDS,
  // Mimetic attention on top of the balance collapsed the answers (structure 26% top-1 at step
  // 300 of small-words); without the balance it trained the IE task as fast as the format.
  'small-words-2': {
    ...SMALL_WORDS,
    name: 'small-words-2',
    model: { ...SMALL.model, mimetic: MIMETIC_HEADS },
    pretrain: { ...SMALL.pretrain, steps: 60 },
    sft: { ...SMALL_WORDS.sft, steps: 800 },
    devF1: { ...SMALL_WORDS.devF1, every: 400 },
    seed: 25,
  },
  'small-copy': SMALL_COPY,
  'small-copy-2': SMALL_COPY_2,
  'small-copy-ie': SMALL_COPY_IE,
  'small-induct': SMALL_INDUCT,
  demo: DEMO,
  // One command of the device tool is 10 minutes, and a session has 15 of device time with the
  // machine's start: unpacking and tokenizer seconds, pretraining 2.5 min, SFT 3.5, then dev F1 and
  // evaluation in what is left (scripts/device/run.sh stops training at 7.5 min, everything at 9.3).
  // The step counts are caps; the budgets decide.
  'demo-device': {
    ...DEMO,
    name: 'demo-device',
    devLossPerDataset: 32,
    pretrain: { ...DEMO.pretrain, checkpointEvery: 500, minutes: 2.5 },
    sft: { ...DEMO.sft, checkpointEvery: 500, minutes: 3.5 },
    devF1: { every: 1000, perDataset: 16, maxNewTokens: 128 },
    eval: { examplesPerSplit: 100, maxNewTokens: 160, batchSize: 50 },
    weightsDtype: 'F16',
  },
  'tiny-device': {
    ...TINY,
    name: 'tiny-device',
    // The rehearsal of demo-device takes its tokenizer split, so that it runs that code.
    tokenizerSplit: DEMO_TOKENIZER_SPLIT,
    pretrain: { ...TINY.pretrain, steps: 200, checkpointEvery: 10, evalEvery: 10, minutes: 0.4 },
    sft: { ...TINY.sft, steps: 200, checkpointEvery: 10, evalEvery: 10, minutes: 0.6 },
    devF1: { ...TINY.devF1, every: 20, perDataset: 1 },
    weightsDtype: 'F16',
  },
};

export function demoPreset(name: string): DemoPreset {
  const preset = (DEMO_PRESETS as Record<string, DemoPreset | undefined>)[name];
  if (!preset) throw new Error(`unknown preset "${name}" (available: ${Object.keys(DEMO_PRESETS).join(', ')})`);
  return preset;
}

/** The GLM framing tokens demoGlmConfig needs, from a tokenizer; throws naming `where` when one is missing. */
export function demoSpecialIds(tokenizer: Tokenizer, where: string): DemoSpecialIds {
  const { pad, mask, gmask, sop, eop } = tokenizer.specialTokens;
  if (pad === undefined || mask === undefined || gmask === undefined || sop === undefined || eop === undefined) {
    throw new Error(`${where}: the tokenizer lacks one of <pad> [MASK] [gMASK] <sop> <eop>`);
  }
  return { pad, mask, gmask, sop, eop };
}

export interface DemoSpecialIds {
  pad: number;
  mask: number;
  gmask: number;
  sop: number;
  eop: number;
}

/**
 * The ChatGLM-6B ("glm" family) config of a preset's model: LayerNorm, GeLU, 2D rotary,
 * DeepNorm post-LN residual, tied word embeddings, the tokenizer's special token ids — and the
 * compact prompt style (schema lines + text, no instruction: a from-scratch model reads no
 * instructions, and they would be most of every sequence).
 */
export function demoGlmConfig(shape: DemoModelShape, specialIds: DemoSpecialIds): GlmConfig {
  if (shape.hiddenSize % shape.numHeads !== 0) throw new Error(`hiddenSize ${shape.hiddenSize} is not a multiple of numHeads ${shape.numHeads}`);
  const config = parseGlmConfig({
    architectures: ['ChatGLMModel'],
    model_type: 'chatglm',
    hidden_size: shape.hiddenSize,
    num_layers: shape.numLayers,
    num_attention_heads: shape.numHeads,
    inner_hidden_size: shape.ffnHiddenSize,
    vocab_size: shape.vocabSize,
    layernorm_epsilon: 1e-5,
    position_encoding_2d: true,
    max_sequence_length: shape.maxSequenceLength,
    bos_token_id: specialIds.sop,
    eos_token_id: specialIds.eop,
    mask_token_id: specialIds.mask,
    gmask_token_id: specialIds.gmask,
    pad_token_id: specialIds.pad,
    [PROMPT_STYLE_CONFIG_KEY]: 'compact',
  });
  if (shape.balancedResidual === undefined) return config;
  const scale = balancedOutputScale(config, shape.initStd, shape.balancedResidual);
  return withSublayerOutputScales(config, { attention: scale, mlp: scale });
}

/** Parameters of a preset's model (tied embeddings): V·C + L·(4C² + 2CF + 9C + F) + 2C. */
export function demoParameterCount(shape: DemoModelShape): number {
  const { hiddenSize: C, ffnHiddenSize: F, vocabSize: V, numLayers: L } = shape;
  return V * C + L * (4 * C * C + 2 * C * F + 9 * C + F) + 2 * C;
}
