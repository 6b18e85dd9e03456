// How tag-guided decoding (ie/tag-bias.ts) is named to a user: the scales it uses, "λ 2" or
// "λ 2, λ_end 1". A module of its own so that the UI names it without the engine.

/** The tag-guided decoding a choice names: its λ where a mention opens and its λ_end inside one, those > 0. */
export function tagBiasLabel(choice: { lambda: number; endLambda: number }): string {
  return [choice.lambda > 0 ? `λ ${choice.lambda}` : '', choice.endLambda > 0 ? `λ_end ${choice.endLambda}` : ''].filter((part) => part !== '').join(', ');
}
