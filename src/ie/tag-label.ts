// How tag-guided decoding (ie/tag-bias.ts) is named to a user: the scales it uses, "λ 2" or
// "λ 2, λ_end 1, λ_list 2". A module of its own so that the UI names it without the engine.

/** The scales of tag-guided decoding (0: that part off). */
export interface TagScales {
  /** Where a mention opens: λ · log p(B-type) of its word start (tag-bias.ts). */
  lambda: number;
  /** Inside a mention: λ_end · log p(I), or log(1 − p(I)), of the next prompt token (tag-bias.ts, mentionEndScore). */
  endLambda: number;
  /** After a mention: another of its type, or the list's end, λ_list · log p of the B tags after it (tag-list-bias.ts). */
  listLambda: number;
}

/** No tag guidance. */
export const NO_TAG_SCALES: TagScales = { lambda: 0, endLambda: 0, listLambda: 0 };

const NAMES: readonly (readonly [keyof TagScales, string])[] = [['lambda', 'λ'], ['endLambda', 'λ_end'], ['listLambda', 'λ_list']];

/** Whether any part of the guidance is on. */
export function tagGuided(scales: TagScales): boolean {
  return scales.lambda + scales.endLambda + scales.listLambda > 0;
}

/** The tag-guided decoding scales name, those > 0: "λ 2, λ_end 2, λ_list 2". */
export function tagBiasLabel(scales: TagScales): string {
  return NAMES.filter(([key]) => scales[key] > 0).map(([key, name]) => `${name} ${scales[key]}`).join(', ');
}

/** Each scale with its name, in order (for messages that check them). */
export function namedTagScales(scales: TagScales): [string, number][] {
  return NAMES.map(([key, name]) => [name, scales[key]]);
}

/** The scales a result records as tagBias, tagEndBias and tagListBias (absent: 0). */
export function recordedTagScales(result: { tagBias?: number | undefined; tagEndBias?: number | undefined; tagListBias?: number | undefined }): TagScales {
  return { lambda: result.tagBias ?? 0, endLambda: result.tagEndBias ?? 0, listLambda: result.tagListBias ?? 0 };
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
}

/** The keys of RecommendedTagScales, in TagScales' order. */
export const RECOMMENDED_TAG_SCALE_KEYS = ['decodingBias', 'decodingEndBias', 'decodingListBias'] as const;

/** The scales a record recommends (absent: 0). */
export function recommendedTagScales(record: RecommendedTagScales): TagScales {
  return { lambda: record.decodingBias ?? 0, endLambda: record.decodingEndBias ?? 0, listLambda: record.decodingListBias ?? 0 };
}
