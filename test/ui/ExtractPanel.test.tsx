// @vitest-environment happy-dom
// The Extract panel (highlighted answer, timing, raw answer, correction with counts) and the
// Export panel (download links) over the scripted engine.
import { act } from 'react';
import { afterEach, describe, expect, it } from 'vitest';
import { installAppStore } from '../../src/state/app-store.ts';
import { createAppStore } from '../../src/state/store.ts';
import { ExportPanel } from '../../src/ui/ExportPanel.tsx';
import { ExtractPanel } from '../../src/ui/ExtractPanel.tsx';
import type { ExtractRequest, ModelSummary } from '../../src/worker/api.ts';
import { checkpointFolder, FakeEngine, SAMPLE_EXAMPLES, sampleExtraction, TINY_SUMMARY } from '../state/fake-engine.ts';
import { mount, type Mounted } from './panels-helpers.ts';

let view: Mounted;
afterEach(() => view.unmount());

async function setUp(panel: 'extract' | 'export', summary: ModelSummary = TINY_SUMMARY) {
  const engine = new FakeEngine();
  engine.loadModelImpl = async () => summary;
  const store = createAppStore(engine);
  installAppStore(store);
  await store.getState().loadModel(checkpointFolder());
  await store.getState().loadDatasetFiles([new File(['{}'], 'sample.jsonl')]);
  view = mount();
  await act(async () => view.root.render(panel === 'extract' ? <ExtractPanel /> : <ExportPanel />));
  return { engine, store };
}

describe('ExtractPanel', () => {
  it('shows highlighted entities, relations, timing and the raw answer; a saved correction raises the counts', async () => {
    const { engine, store } = await setUp('extract');
    expect(view.byTestId('correction-counts').textContent).toMatch(/0 gold examples.*0 preference pairs/);
    await act(async () => store.getState().setExtractText(SAMPLE_EXAMPLES[0]!.text));
    await act(async () => view.button(/^Extract$/).click());
    const result = view.byTestId('extract-result');
    const marks = [...result.querySelectorAll('mark.span')].map((mark) => [mark.getAttribute('data-type'), mark.firstChild?.textContent]);
    expect(marks).toEqual([['person', 'John Smith'], ['organization', 'Paris']]);
    expect(view.byTestId('extract-legend').textContent).toMatch(/location.*organization.*person/);
    expect(result.querySelector('[data-testid="relations"]')?.textContent).toMatch(/John Smith — work for → Paris/);
    expect(view.byTestId('extract-timing').textContent).toMatch(/^150 ms, 30 tokens, 200\.0 tokens\/s/);
    expect(view.byTestId('extract-answer').textContent).toContain('"work for"');

    await act(async () => view.button(/Correct this answer/).click());
    const rows = view.container.querySelectorAll('[data-testid="correction-span"]');
    expect(rows).toHaveLength(2);
    const typeSelect = rows[1]!.querySelector('select') as HTMLSelectElement;
    await act(async () => {
      typeSelect.value = 'location';
      typeSelect.dispatchEvent(new Event('change', { bubbles: true }));
    });
    await act(async () => view.button(/^Accept$/).click());
    expect(view.container.querySelector('[data-testid="correction-span"]')?.getAttribute('data-accepted')).toBe('yes');
    await act(async () => view.button(/Save correction/).click());
    expect(engine.savedCorrections[0]?.example.entities.map((e) => e.type)).toEqual(['person', 'location']);
    expect(view.byTestId('correction-counts').textContent).toMatch(/1 gold examples.*1 preference pairs/);
    expect(view.container.querySelector('[data-testid="correction"]')).toBeNull();
  });

  it('offers the tag-guided decoding a model recommends, sends the choice, and says what the answer used', async () => {
    const { engine, store } = await setUp('extract', { ...TINY_SUMMARY, tagGuidance: { lambda: 2, endLambda: 1.5, listLambda: 3, skipLambda: 1, entityTypes: ['person', 'location'] } });
    const requests: ExtractRequest[] = [];
    engine.extractImpl = async (request) => {
      requests.push(request);
      return request.tagGuided
        ? { ...sampleExtraction(request.text), tagBias: 2, tagEndBias: 1.5, tagListBias: 3, tagSkipBias: 1, tagBiasOff: null }
        : { ...sampleExtraction(request.text), tagBias: 0, tagBiasOff: null };
    };
    const box = view.byTestId('extract-tag-guided') as HTMLInputElement;
    expect(box.checked).toBe(true);
    expect(box.parentElement!.textContent).toContain('λ 2, λ_end 1.5, λ_list 3, λ_skip 1');
    expect(box.parentElement!.title).toContain('inside a mention');
    expect(box.parentElement!.title).toContain('closing the list gets λ_list');
    expect(box.parentElement!.title).toContain('passes over without a list costs λ_skip');
    await act(async () => store.getState().setExtractText(SAMPLE_EXAMPLES[0]!.text));
    await act(async () => view.button(/^Extract$/).click());
    expect(requests[0]!.tagGuided).toBe(true);
    expect(view.byTestId('extract-timing').textContent).toContain(', tag-guided (λ 2, λ_end 1.5, λ_list 3, λ_skip 1)');
    await act(async () => box.click());
    await act(async () => view.button(/^Extract$/).click());
    expect(requests[1]!.tagGuided).toBe(false);
    expect(view.byTestId('extract-timing').textContent).not.toContain('tag-guided');
    // A schema with a type the model has no tag for: the engine decodes plainly and says why.
    engine.extractImpl = async (request) => ({ ...sampleExtraction(request.text), tagBias: 0, tagBiasOff: "the model's tag-guided decoding (λ 2) is off: entity type organization of the schema has no prompt tag" });
    await act(async () => box.click());
    await act(async () => view.button(/^Extract$/).click());
    expect(view.byTestId('extract-tag-off').textContent).toBe("Plain decoding: the model's tag-guided decoding (λ 2) is off: entity type organization of the schema has no prompt tag.");
    // It guides constrained decoding only: the switch waits while the constraint is off.
    await act(async () => store.getState().setConstrained(false));
    expect(box.disabled).toBe(true);
  });

  it('offers no tag guidance for a model that recommends none', async () => {
    await setUp('extract');
    expect(view.container.querySelector('[data-testid="extract-tag-guided"]')).toBeNull();
  });

  it('shows the engine\'s error as it is', async () => {
    const { engine, store } = await setUp('extract');
    engine.extractImpl = async () => {
      throw new Error('The text is empty: paste a sentence to extract from.');
    };
    await act(async () => store.getState().setExtractText('x'));
    await act(async () => view.button(/^Extract$/).click());
    expect(view.byTestId('extract-error').textContent).toBe('The text is empty: paste a sentence to extract from.');
  });
});

describe('ExportPanel', () => {
  it('offers each exported file as a download link', async () => {
    const { engine } = await setUp('export');
    await act(async () => view.button(/Export merged checkpoint/).click());
    const links = [...view.container.querySelectorAll<HTMLAnchorElement>('[data-testid="export-file"]')];
    expect(links.map((link) => link.getAttribute('download'))).toEqual(['config.json', 'model.safetensors', 'tokenizer.json']);
    expect(links.every((link) => link.href.startsWith('blob:'))).toBe(true);
    await act(async () => view.button(/Export TRL datasets/).click());
    expect([...view.container.querySelectorAll('[data-testid="export-file"]')].map((link) => link.textContent)).toEqual(['sft.jsonl', 'preference.jsonl']);
    expect(engine.calls).toContain('exportModel(merged)');
  });
});
