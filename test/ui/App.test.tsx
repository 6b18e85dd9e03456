// @vitest-environment happy-dom
// The page over a scripted engine: what the user sees for each state.
import { act } from 'react';
import { createRoot, type Root } from 'react-dom/client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { installAppStore } from '../../src/state/app-store.ts';
import { createAppStore } from '../../src/state/store.ts';
import type { AppStore } from '../../src/state/types.ts';
import { App } from '../../src/ui/App.tsx';
import { checkpointFolder, FakeEngine } from '../state/fake-engine.ts';

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

let container: HTMLDivElement;
let root: Root;

beforeEach(() => {
  container = document.createElement('div');
  document.body.append(container);
  root = createRoot(container);
});

afterEach(() => {
  act(() => root.unmount());
  container.remove();
});

async function renderApp(engine: FakeEngine): Promise<AppStore> {
  const store = createAppStore(engine);
  installAppStore(store);
  await act(async () => {
    root.render(<App />);
    await store.getState().checkGpu();
  });
  return store;
}

function byTestId(id: string): HTMLElement {
  const element = container.querySelector<HTMLElement>(`[data-testid="${id}"]`);
  if (!element) throw new Error(`no [data-testid="${id}"] in:\n${container.innerHTML}`);
  return element;
}

function button(label: RegExp): HTMLButtonElement {
  const found = [...container.querySelectorAll('button')].find((b) => label.test(b.textContent ?? ''));
  if (!found) throw new Error(`no button ${label}`);
  return found;
}

describe('App', () => {
  it('explains how to enable WebGPU when there is none, and offers no model loading', async () => {
    const engine = new FakeEngine();
    engine.gpuInfoImpl = async () => ({ available: false, reason: 'navigator.gpu is undefined: enable chrome://flags/#enable-unsafe-webgpu' });
    await renderApp(engine);
    const alert = byTestId('gpu-missing');
    expect(alert.getAttribute('role')).toBe('alert');
    expect(alert.textContent).toContain('WebGPU is not available.');
    expect(alert.textContent).toContain('chrome://flags/#enable-unsafe-webgpu');
    expect((byTestId('model-folder') as HTMLInputElement).disabled).toBe(true);
  });

  it('shows the adapter, the limits in bytes and the features, and runs the self-test', async () => {
    const engine = new FakeEngine();
    await renderApp(engine);
    expect(byTestId('gpu-adapter').textContent).toContain('google swiftshader');
    const rows = Object.fromEntries(
      [...container.querySelectorAll('table.facts tr')].map((row) => [row.querySelector('th')?.textContent, row.querySelector('td')?.textContent]),
    );
    expect(rows).toMatchObject({
      maxStorageBufferBindingSize: '1.00 GiB',
      maxBufferSize: '1.00 GiB',
      maxComputeWorkgroupStorageSize: '32.0 KiB',
      subgroups: 'yes',
      'shader-f16': 'no (f32 kernels only)',
    });
    await act(async () => button(/self-test/).click());
    expect(engine.calls).toContain('selfTest');
    expect(byTestId('selftest-result').textContent).toMatch(/max \|diff\| = 2\.00e-7 over 1 linear layers \(matvec 1×70→33\).*pass/);
  });

  it('marks a self-test above the tolerance as FAIL', async () => {
    const engine = new FakeEngine();
    engine.selfTestImpl = async () => ({ cases: [{ M: 67, K: 37, N: 70, kernel: 'matmul', maxAbsDiff: 0.5 }], maxAbsDiff: 0.5, milliseconds: 3 });
    await renderApp(engine);
    await act(async () => button(/self-test/).click());
    const result = byTestId('selftest-result');
    expect(result.textContent).toMatch(/max \|diff\| = 5\.00e-1 .*FAIL/);
    expect(result.className).toBe('error-text');
  });

  it('loads a picked folder, shows the model, and predicts the next token', async () => {
    const engine = new FakeEngine();
    await renderApp(engine);
    const folderInput = byTestId('model-folder') as HTMLInputElement;
    expect(folderInput.hasAttribute('webkitdirectory')).toBe(true);
    expect(folderInput.multiple).toBe(true);
    Object.defineProperty(folderInput, 'files', { value: checkpointFolder(), configurable: true });
    await act(async () => {
      folderInput.dispatchEvent(new Event('change', { bubbles: true }));
    });
    expect(engine.calls).toContain('loadModel(config.json,model.safetensors)');
    const summary = byTestId('model-summary').textContent ?? '';
    expect(summary).toContain('GLM v2 (ChatGLM2/3, GLM-4)');
    expect(byTestId('model-parameters').textContent).toBe('12.3 K');

    const idsInput = byTestId('token-ids') as HTMLInputElement;
    await act(async () => {
      // React tracks the input's value; set it through the native setter so onChange fires.
      const setValue = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value')?.set;
      setValue?.call(idsInput, '4, 8, 15');
      idsInput.dispatchEvent(new Event('input', { bubbles: true }));
    });
    await act(async () => button(/Next token/).click());
    expect(engine.calls.at(-1)).toBe('nextToken(4,8,15)');
    expect(byTestId('argmax').textContent).toBe('7');
    const logitRows = [...byTestId('next-token-result').querySelectorAll('tbody tr')].map((row) =>
      [...row.querySelectorAll('td')].map((cell) => cell.textContent),
    );
    expect(logitRows).toEqual([['7', '5.0000'], ['3', '4.0000'], ['1', '3.0000'], ['0', '2.0000'], ['2', '1.0000']]);
  });

  it('shows a loading error as the engine phrased it', async () => {
    const engine = new FakeEngine();
    engine.loadModelImpl = () => Promise.reject(new Error('no config.json in the checkpoint folder (files: a.txt)'));
    await renderApp(engine);
    const folderInput = byTestId('model-folder') as HTMLInputElement;
    Object.defineProperty(folderInput, 'files', { value: [new File(['x'], 'a.txt')], configurable: true });
    await act(async () => {
      folderInput.dispatchEvent(new Event('change', { bubbles: true }));
    });
    expect(byTestId('model-error').textContent).toBe('no config.json in the checkpoint folder (files: a.txt)');
  });
});
