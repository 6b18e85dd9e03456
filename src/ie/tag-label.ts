// How tag-guided decoding (ie/tag-bias.ts) is named to a user: the scales it uses, "λ 2" or
// "λ 2, λ_end 1, λ_list 2, λ_skip 2". A module of its own so that the UI names it without the engine.

/** The scales of tag-guided decoding (0: that part off). */
export interface TagScales {
  /** Where a mention opens: λ · log p(B-type) of its word start (tag-bias.ts). */
  lambda: number;
  /** Inside a mention: λ_end · log p(I), or log(1 − p(I)), of the next prompt token (tag-bias.ts, mentionEndScore). */
  endLambda: number;
  /** After a mention: another of its type, or the list's end, λ_list · log p of the B tags after it (tag-list-bias.ts). */
  listLambda: number;
  /** Each entity type the answer passes over without a list: λ_skip · log(1 − its best p(B) in the text) (tag-list-bias.ts). */
  skipLambda: number;
}

/** No tag guidance. */
export const NO_TAG_SCALES: TagScales = { lambda: 0, endLambda: 0, listLambda: 0, skipLambda: 0 };

/** Each scale: its name, and what it does in words (for a tooltip). */
const SCALES: readonly { key: keyof TagScales; name: string; explained: string }[] = [
  { key: 'lambda', name: 'λ', explained: 'where the answer opens a mention of a type, each allowed word gets λ · log p(it begins that type)' },
  { key: 'endLambda', name: 'λ_end', explained: 'inside a mention, going on or closing gets λ_end · log p(the next word is inside it, or not)' },
  { key: 'listLambda', name: 'λ_list', explained: 'after a mention, going on to another of its type or closing the list gets λ_list · log p(one begins later in the text, or not)' },
  { key: 'skipLambda', name: 'λ_skip', explained: 'an entity type the answer passes over without a list costs λ_skip · log p(no mention of it begins in the text)' },
];

/** Whether any part of the guidance is on. */
export function tagGuided(scales: TagScales): boolean {
  return scales.lambda + scales.endLambda + scales.listLambda + scales.skipLambda > 0;
}

/** The tag-guided decoding scales name, those > 0: "λ 2, λ_end 2, λ_list 2". */
export function tagBiasLabel(scales: TagScales): string {
  return SCALES.filter(({ key }) => scales[key] > 0).map(({ key, name }) => `${name} ${scales[key]}`).join(', ');
}

/** What each scale > 0 does, in words, in order (for a tooltip). */
export function tagGuidanceParts(scales: TagScales): string[] {
  return SCALES.filter(({ key }) => scales[key] > 0).map(({ explained }) => explained);
}

/** Each scale with its name, in order (for messages that check them). */
export function namedTagScales(scales: TagScales): [string, number][] {
  return SCALES.map(({ key, name }) => [name, scales[key]]);
}

/** The scales a result (an extraction, an eval report) records it was decoded with; absent: 0 (none, or a report older than that scale). */
export interface RecordedTagScales {
  /** λ where a mention opens. */
  tagBias?: number | undefined;
  /** λ_end inside mentions. */
  tagEndBias?: number | undefined;
  /** λ_list on how many mentions each list holds. */
  tagListBias?: number | undefined;
  /** λ_skip on each entity type passed over without a list. */
  tagSkipBias?: number | undefined;
}

/** The scales a result records, or an extraction's options ask for under the same names (absent: 0). */
export function recordedTagScales(result: RecordedTagScales): TagScales {
  return { lambda: result.tagBias ?? 0, endLambda: result.tagEndBias ?? 0, listLambda: result.tagListBias ?? 0, skipLambda: result.tagSkipBias ?? 0 };
}

/** The record of scales for a result (recordedTagScales reads it back). */
export function tagScaleRecord(scales: TagScales): Required<RecordedTagScales> {
  return { tagBias: scales.lambda, tagEndBias: scales.endLambda, tagListBias: scales.listLambda, tagSkipBias: scales.skipLambda };
}

/**
 * The scales a model recommends, as its config.json's prompt-tag record (ie/prompt-tags.ts) and a
 * demo preset (train/demo/config.ts) name them; absent: not recommended.
 */
export interface RecommendedTagScales {
  /** λ where a mention opens. */
  decodingBias?: number | undefined;
  /** λ_end inside a mention. */
  decodingEndBias?: number | undefined;
  /** λ_list on how many mentions each entity list holds. */
  decodingListBias?: number | undefined;
  /** λ_skip on each entity type an answer passes over without a list. */
  decodingSkipBias?: number | undefined;
}

/** The keys of RecommendedTagScales, in TagScales' order. */
export const RECOMMENDED_TAG_SCALE_KEYS = ['decodingBias', 'decodingEndBias', 'decodingListBias', 'decodingSkipBias'] as const;

/** The scales a record recommends (absent: 0). */
export function recommendedTagScales(record: RecommendedTagScales): TagScales {
  return { lambda: record.decodingBias ?? 0, endLambda: record.decodingEndBias ?? 0, listLambda: record.decodingListBias ?? 0, skipLambda: record.decodingSkipBias ?? 0 };
}
