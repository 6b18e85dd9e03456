// cli/model-setup.ts decodingChoice: the constraint's switches as `extract` and `eval` read them.
import { describe, expect, it } from 'vitest';
import { parseArgs } from '../../src/cli/args.ts';
import { DECODING_OPTIONS, decodingChoice } from '../../src/cli/model-setup.ts';

const choose = (argv: string[]) => decodingChoice(parseArgs(argv, DECODING_OPTIONS));

describe('decodingChoice', () => {
  it('keeps every rule of the constraint by default, and lifts each by its own switch', () => {
    const plain = choose([]);
    expect([plain.constrained, plain.mentionBoundaries, plain.allowRepeatedEntities, plain.allowNestedEntities, plain.freeRelationArguments]).toEqual([true, 'words', false, false, false]);
    expect(choose(['--allow-nested-entities'])).toMatchObject({ allowNestedEntities: true, allowRepeatedEntities: false, freeRelationArguments: false });
    expect(choose(['--allow-repeated-entities'])).toMatchObject({ allowNestedEntities: false, allowRepeatedEntities: true });
    expect(choose(['--free-relation-arguments', '--mention-boundaries', 'anywhere'])).toMatchObject({ freeRelationArguments: true, mentionBoundaries: 'anywhere', allowNestedEntities: false });
    expect(choose(['--no-constraint']).constrained).toBe(false);
  });
});
