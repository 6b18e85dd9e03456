// The extraction schema as a form: entity types, relation types with their head / tail entity
// types, event types with their roles (lists typed comma separated). Every edit goes to the
// store, which validates the draft with parseSchema; its issues are listed by field.

import { getAppStore, useAppState } from '../state/app-store.ts';
import type { IeSchema } from '../worker/api.ts';

/** "a, b ,c" → ["a", "b", "c"]; an empty field is an empty list. */
export function splitNames(text: string): string[] {
  return text.trim() === '' ? [] : text.split(',').map((name) => name.trim());
}

function joinNames(names: readonly string[] | undefined): string {
  return (names ?? []).join(', ');
}

export function SchemaEditor() {
  const draft = useAppState((state) => state.data.schemaDraft);
  const issues = useAppState((state) => state.data.schemaIssues);
  const edit = (change: (schema: IeSchema) => IeSchema): void => getAppStore().getState().setSchemaDraft(change(getAppStore().getState().data.schemaDraft));

  return (
    <fieldset className="schema-editor" data-testid="schema-editor">
      <legend>Schema</legend>
      <label className="field">
        Entity types{' '}
        <input
          type="text"
          data-testid="schema-entities"
          value={joinNames(draft.entityTypes)}
          onChange={(event) => edit((schema) => ({ ...schema, entityTypes: splitNames(event.target.value) }))}
        />
      </label>
      <table className="schema-table">
        <thead>
          <tr><th>relation type</th><th>head types</th><th>tail types</th><th /></tr>
        </thead>
        <tbody>
          {draft.relationTypes.map((relation, index) => (
            <tr key={index} data-testid="schema-relation">
              <td>
                <input type="text" aria-label={`relation ${index + 1} name`} value={relation.name}
                  onChange={(event) => edit((schema) => ({ ...schema, relationTypes: schema.relationTypes.map((r, i) => (i === index ? { ...r, name: event.target.value } : r)) }))} />
              </td>
              {(['headTypes', 'tailTypes'] as const).map((side) => (
                <td key={side}>
                  <input type="text" aria-label={`relation ${index + 1} ${side === 'headTypes' ? 'head' : 'tail'} types`} value={joinNames(relation[side])}
                    onChange={(event) => edit((schema) => ({ ...schema, relationTypes: schema.relationTypes.map((r, i) => (i === index ? { ...r, [side]: splitNames(event.target.value) } : r)) }))} />
                </td>
              ))}
              <td>
                <button type="button" onClick={() => edit((schema) => ({ ...schema, relationTypes: schema.relationTypes.filter((_, i) => i !== index) }))}>Remove</button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <button type="button" onClick={() => edit((schema) => ({ ...schema, relationTypes: [...schema.relationTypes, { name: '', headTypes: [], tailTypes: [] }] }))}>
        Add relation type
      </button>
      <table className="schema-table">
        <thead>
          <tr><th>event type</th><th>roles</th><th /></tr>
        </thead>
        <tbody>
          {draft.eventTypes.map((eventType, index) => (
            <tr key={index} data-testid="schema-event">
              <td>
                <input type="text" aria-label={`event ${index + 1} name`} value={eventType.name}
                  onChange={(event) => edit((schema) => ({ ...schema, eventTypes: schema.eventTypes.map((e, i) => (i === index ? { ...e, name: event.target.value } : e)) }))} />
              </td>
              <td>
                <input type="text" aria-label={`event ${index + 1} roles`} value={joinNames(eventType.roles)}
                  onChange={(event) => edit((schema) => ({ ...schema, eventTypes: schema.eventTypes.map((e, i) => (i === index ? { ...e, roles: splitNames(event.target.value) } : e)) }))} />
              </td>
              <td>
                <button type="button" onClick={() => edit((schema) => ({ ...schema, eventTypes: schema.eventTypes.filter((_, i) => i !== index) }))}>Remove</button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <div className="row">
        <button type="button" onClick={() => edit((schema) => ({ ...schema, eventTypes: [...schema.eventTypes, { name: '', roles: [] }] }))}>Add event type</button>
        <button type="button" onClick={() => getAppStore().getState().resetSchema()}>Reset to the dataset's schema</button>
      </div>
      {issues.length > 0 ? (
        <ul className="error-text" role="alert" data-testid="schema-issues">
          {issues.map((issue, index) => (
            <li key={index}><code>{issue.path}</code>: {issue.message}</li>
          ))}
        </ul>
      ) : (
        <p className="ok-text" data-testid="schema-valid">Schema is valid.</p>
      )}
    </fieldset>
  );
}
