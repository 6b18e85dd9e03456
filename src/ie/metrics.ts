// Strict micro-averaged precision / recall / F1 for information extraction.
//
// A prediction counts only when every part matches a gold one exactly:
//   entities         span (start, end) + entity type
//   relations        head span + tail span + relation type
//   relationsStrict  the same + the head's and the tail's entity types (the CoNLL04 standard;
//                    an argument without an entity type never matches)
//   triggers         trigger span + event type
//   arguments        argument span + role + event type (the trigger need not match, as in CASIE)
// Within one example, identical predictions (or identical gold items) count once. Micro averages
// sum true positives, predictions and gold items over all examples and types. P = tp / predicted
// and R = tp / gold are 0 when their denominator is 0; F1 = 2PR / (P + R), 0 when P + R = 0.
// "Hallucinated" counts mention strings of the answers that do not occur in their input.

import type { AnswerIssueKind, AnswerParseResult, HallucinatedMention, ParsedAnswer } from './answer.ts';
import type { Extraction } from './spans.ts';

export interface Prf {
  tp: number;
  predicted: number;
  gold: number;
  precision: number;
  recall: number;
  f1: number;
}

export interface ScoreTable {
  overall: Prf;
  /** Per entity / relation / event type; arguments are keyed "EventType / Role". Sorted keys. */
  byType: Record<string, Prf>;
}

export interface IeMetrics {
  examples: number;
  /** Answers that the parser reported issues for (broken JSON, wrong shapes, unknown types...). */
  malformedAnswers: number;
  issues: Partial<Record<AnswerIssueKind, number>>;
  entities: ScoreTable;
  relations: ScoreTable;
  relationsStrict: ScoreTable;
  triggers: ScoreTable;
  arguments: ScoreTable;
  hallucinated: {
    /** Mention strings absent from their input. */
    count: number;
    /** All mention strings of all answers (the denominator for a rate). */
    mentions: number;
    byKind: Partial<Record<HallucinatedMention['kind'], number>>;
  };
}

export function prf(tp: number, predicted: number, gold: number): Prf {
  const precision = predicted > 0 ? tp / predicted : 0;
  const recall = gold > 0 ? tp / gold : 0;
  const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
  return { tp, predicted, gold, precision, recall, f1 };
}

type Category = 'entities' | 'relations' | 'relationsStrict' | 'triggers' | 'arguments';
const CATEGORIES: Category[] = ['entities', 'relations', 'relationsStrict', 'triggers', 'arguments'];

interface Counts {
  tp: number;
  predicted: number;
  gold: number;
}

/** Keys (type, identity) of every scored item of an extraction, deduplicated. */
function keysOf(extraction: Extraction): Record<Category, Map<string, string>> {
  const keys: Record<Category, Map<string, string>> = {
    entities: new Map(),
    relations: new Map(),
    relationsStrict: new Map(),
    triggers: new Map(),
    arguments: new Map(),
  };
  for (const entity of extraction.entities) keys.entities.set(`${entity.type}|${entity.start}:${entity.end}`, entity.type);
  for (const relation of extraction.relations) {
    const spans = `${relation.type}|${relation.head.start}:${relation.head.end}|${relation.tail.start}:${relation.tail.end}`;
    keys.relations.set(spans, relation.type);
    if (relation.head.entityType !== undefined && relation.tail.entityType !== undefined) {
      keys.relationsStrict.set(`${spans}|${relation.head.entityType}|${relation.tail.entityType}`, relation.type);
    } else {
      // Counted as a prediction that cannot be right.
      keys.relationsStrict.set(`${spans}|untyped`, relation.type);
    }
  }
  for (const event of extraction.events) {
    keys.triggers.set(`${event.type}|${event.trigger.start}:${event.trigger.end}`, event.type);
    for (const argument of event.arguments) {
      keys.arguments.set(`${event.type}|${argument.role}|${argument.start}:${argument.end}`, `${event.type} / ${argument.role}`);
    }
  }
  return keys;
}

function isParseResult(value: Extraction | AnswerParseResult): value is AnswerParseResult {
  return 'ok' in value;
}

/** Sums counts over examples; `result()` gives the metrics so far. */
export class IeMetricsAccumulator {
  private examples = 0;
  private malformed = 0;
  private readonly issues: Partial<Record<AnswerIssueKind, number>> = {};
  private readonly counts: Record<Category, Map<string, Counts>> = {
    entities: new Map(),
    relations: new Map(),
    relationsStrict: new Map(),
    triggers: new Map(),
    arguments: new Map(),
  };
  private hallucinatedCount = 0;
  private mentions = 0;
  private readonly hallucinatedByKind: Partial<Record<HallucinatedMention['kind'], number>> = {};

  /** Adds one example: its gold extraction and the model's (parsed answer or extraction). */
  add(gold: Extraction, predicted: Extraction | AnswerParseResult): void {
    this.examples++;
    let extraction: Extraction = isParseResult(predicted) ? (predicted.ok ? predicted.answer : predicted.partial) : predicted;
    if (isParseResult(predicted)) {
      const answer: ParsedAnswer = predicted.ok ? predicted.answer : predicted.partial;
      if (!predicted.ok) this.malformed++;
      for (const issue of answer.issues) this.issues[issue.kind] = (this.issues[issue.kind] ?? 0) + 1;
      this.hallucinatedCount += answer.hallucinated.length;
      this.mentions += answer.mentionCount;
      for (const mention of answer.hallucinated) this.hallucinatedByKind[mention.kind] = (this.hallucinatedByKind[mention.kind] ?? 0) + 1;
      extraction = answer;
    }
    const goldKeys = keysOf(gold);
    const predictedKeys = keysOf(extraction);
    for (const category of CATEGORIES) {
      const table = this.counts[category];
      const bump = (type: string, field: keyof Counts): void => {
        let counts = table.get(type);
        if (counts === undefined) table.set(type, (counts = { tp: 0, predicted: 0, gold: 0 }));
        counts[field]++;
      };
      for (const type of goldKeys[category].values()) bump(type, 'gold');
      for (const [key, type] of predictedKeys[category]) {
        bump(type, 'predicted');
        if (goldKeys[category].has(key)) bump(type, 'tp');
      }
    }
  }

  result(): IeMetrics {
    const table = (category: Category): ScoreTable => {
      const byType: Record<string, Prf> = {};
      const total: Counts = { tp: 0, predicted: 0, gold: 0 };
      for (const type of [...this.counts[category].keys()].sort()) {
        const counts = this.counts[category].get(type)!;
        byType[type] = prf(counts.tp, counts.predicted, counts.gold);
        total.tp += counts.tp;
        total.predicted += counts.predicted;
        total.gold += counts.gold;
      }
      return { overall: prf(total.tp, total.predicted, total.gold), byType };
    };
    return {
      examples: this.examples,
      malformedAnswers: this.malformed,
      issues: { ...this.issues },
      entities: table('entities'),
      relations: table('relations'),
      relationsStrict: table('relationsStrict'),
      triggers: table('triggers'),
      arguments: table('arguments'),
      hallucinated: { count: this.hallucinatedCount, mentions: this.mentions, byKind: { ...this.hallucinatedByKind } },
    };
  }
}

/** Scores a list of (gold, prediction) pairs. */
export function scoreExtractions(pairs: Iterable<{ gold: Extraction; predicted: Extraction | AnswerParseResult }>): IeMetrics {
  const accumulator = new IeMetricsAccumulator();
  for (const { gold, predicted } of pairs) accumulator.add(gold, predicted);
  return accumulator.result();
}

const CATEGORY_TITLES: Record<Category, string> = {
  entities: 'Entities (span + type)',
  relations: 'Relations (head span + tail span + type)',
  relationsStrict: 'Relations, strict (+ head and tail entity types)',
  triggers: 'Event triggers (span + event type)',
  arguments: 'Event arguments (span + role + event type)',
};

function percent(value: number): string {
  return (100 * value).toFixed(2).padStart(6);
}

/** A plain-text report: one table per category that has gold or predicted items. */
export function formatMetricsTable(metrics: IeMetrics): string {
  const lines: string[] = [];
  for (const category of CATEGORIES) {
    const table = metrics[category];
    if (table.overall.gold === 0 && table.overall.predicted === 0) continue;
    const names = Object.keys(table.byType);
    const width = Math.max(8, ...names.map((name) => name.length));
    lines.push(CATEGORY_TITLES[category]);
    lines.push(`  ${'type'.padEnd(width)}  ${'P'.padStart(6)}  ${'R'.padStart(6)}  ${'F1'.padStart(6)}  ${'tp'.padStart(6)}  ${'pred'.padStart(6)}  ${'gold'.padStart(6)}`);
    const row = (name: string, score: Prf): string =>
      `  ${name.padEnd(width)}  ${percent(score.precision)}  ${percent(score.recall)}  ${percent(score.f1)}  ${String(score.tp).padStart(6)}  ${String(score.predicted).padStart(6)}  ${String(score.gold).padStart(6)}`;
    for (const name of names) lines.push(row(name, table.byType[name]!));
    lines.push(row('micro', table.overall));
    lines.push('');
  }
  const { count, mentions } = metrics.hallucinated;
  lines.push(`Examples: ${metrics.examples}; malformed answers: ${metrics.malformedAnswers}`);
  lines.push(`Hallucinated mentions (not in the input): ${count} of ${mentions}${mentions > 0 ? ` (${((100 * count) / mentions).toFixed(2)}%)` : ''}`);
  return lines.join('\n');
}
