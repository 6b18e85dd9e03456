// Token ids in, the last position's argmax and top-5 logits out.

import type { FormEvent } from 'react';
import { getAppStore, useAppState } from '../state/app-store.ts';

export function NextTokenForm() {
  const inference = useAppState((state) => state.inference);

  const onSubmit = (event: FormEvent<HTMLFormElement>): void => {
    event.preventDefault();
    void getAppStore().getState().predictNextToken();
  };

  const { result } = inference;
  return (
    <form className="next-token" onSubmit={onSubmit}>
      <label>
        Token ids (comma separated){' '}
        <input
          type="text"
          data-testid="token-ids"
          value={inference.tokenIdsText}
          placeholder="5, 17, 42"
          onChange={(event) => getAppStore().getState().setTokenIdsText(event.target.value)}
        />
      </label>{' '}
      <button type="submit" disabled={inference.status === 'running'}>
        {inference.status === 'running' ? 'Running…' : 'Next token'}
      </button>
      {inference.error && (
        <p className="error-text" role="alert">
          {inference.error}
        </p>
      )}
      {result && (
        <div data-testid="next-token-result">
          <p>
            argmax after {result.positions} tokens: <strong data-testid="argmax">{result.argmax}</strong>
          </p>
          <table className="facts">
            <thead>
              <tr><th>token id</th><th>logit</th></tr>
            </thead>
            <tbody>
              {result.top.map(({ tokenId, logit }) => (
                <tr key={tokenId}><td>{tokenId}</td><td>{logit.toFixed(4)}</td></tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </form>
  );
}
