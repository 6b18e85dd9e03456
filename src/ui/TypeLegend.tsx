// The colour legend of annotation types (the same colours as the highlighted spans).

import { typeColor } from './type-colors.ts';

export function TypeLegend({ types, testId = 'type-legend' }: { types: readonly string[]; testId?: string }) {
  return (
    <p className="legend" data-testid={testId}>
      {types.map((type) => (
        <span key={type} className="legend-item" data-type={type}>
          <span className="swatch" style={{ background: typeColor(type) }} /> {type}
        </span>
      ))}
    </p>
  );
}
