// Shared set-up for component tests: a fresh root per test and lookups by test id / label.
import { act } from 'react';
import { createRoot, type Root } from 'react-dom/client';

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

export interface Mounted {
  container: HTMLDivElement;
  root: Root;
  byTestId(id: string): HTMLElement;
  button(label: RegExp): HTMLButtonElement;
  unmount(): void;
}

export function mount(): Mounted {
  const container = document.createElement('div');
  document.body.append(container);
  const root = createRoot(container);
  return {
    container,
    root,
    byTestId(id) {
      const element = container.querySelector<HTMLElement>(`[data-testid="${id}"]`);
      if (!element) throw new Error(`no [data-testid="${id}"] in:\n${container.innerHTML}`);
      return element;
    },
    button(label) {
      const found = [...container.querySelectorAll('button')].find((b) => label.test(b.textContent ?? ''));
      if (!found) throw new Error(`no button ${label}`);
      return found;
    },
    unmount() {
      act(() => root.unmount());
      container.remove();
    },
  };
}

/** Sets an input's value the way a user does, so React's onChange fires. */
export function typeInto(input: HTMLInputElement, value: string): void {
  Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value')?.set?.call(input, value);
  input.dispatchEvent(new Event('input', { bubbles: true }));
}
