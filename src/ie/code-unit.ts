// Character classes of single UTF-16 code units, asked at every character of a mention by the
// constraint: each predicate is evaluated once per code unit and remembered (64 KiB a predicate),
// so no start-up pass over all 65,536 units and no regex on the hot path.

/** `test` of the one-unit string of a code unit, memoized per unit. */
export function codeUnitPredicate(test: (character: string) => boolean): (code: number) => boolean {
  const known = new Uint8Array(65536); // 0 not asked yet, 1 true, 2 false
  return (code) => {
    let value = known[code]!;
    if (value === 0) known[code] = value = test(String.fromCharCode(code)) ? 1 : 2;
    return value === 1;
  };
}
