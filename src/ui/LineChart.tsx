// A small line chart in plain SVG: one or more series over a shared x axis (training steps),
// with the y range and the last x written on the axes. The ranges fit the points unless given
// (a percentage chart keeps 0–100; a chart under another can share its steps).

export interface ChartSeries {
  name: string;
  color: string;
  points: readonly { x: number; y: number }[];
}

export interface LineChartProps {
  title: string;
  series: readonly ChartSeries[];
  width?: number;
  height?: number;
  /** Fixed y range (values outside it are clipped to the plot); default: the points' range. */
  yDomain?: readonly [min: number, max: number];
  /** Fixed x range; default: the points' range. */
  xDomain?: readonly [min: number, max: number];
  /** How a y value reads on the axis and in a point's tooltip; default: formatTick / 4 decimals. */
  formatY?: (value: number) => string;
}

const PAD = { left: 44, right: 8, top: 8, bottom: 22 };

function formatTick(value: number): string {
  return Math.abs(value) >= 100 || value === 0 ? value.toFixed(0) : value.toPrecision(3);
}

export function LineChart({ title, series, width = 420, height = 180, yDomain, xDomain, formatY }: LineChartProps) {
  const all = series.flatMap((s) => s.points).filter((p) => Number.isFinite(p.y));
  if (all.length === 0) {
    return <p className="muted" data-testid="chart-empty">{title}: no points yet.</p>;
  }
  const xMin = xDomain ? xDomain[0] : Math.min(...all.map((p) => p.x));
  const xMax = xDomain ? xDomain[1] : Math.max(...all.map((p) => p.x));
  let yMin = yDomain ? yDomain[0] : Math.min(...all.map((p) => p.y));
  let yMax = yDomain ? yDomain[1] : Math.max(...all.map((p) => p.y));
  if (yMax === yMin) {
    yMax += 0.5;
    yMin -= 0.5;
  }
  const plotWidth = width - PAD.left - PAD.right;
  const plotHeight = height - PAD.top - PAD.bottom;
  const sx = (x: number): number => PAD.left + (xMax === xMin ? plotWidth / 2 : ((x - xMin) / (xMax - xMin)) * plotWidth);
  const sy = (y: number): number => PAD.top + (1 - (Math.min(yMax, Math.max(yMin, y)) - yMin) / (yMax - yMin)) * plotHeight;
  const axisY = formatY ?? formatTick;
  const pointY = formatY ?? ((value: number): string => value.toFixed(4));
  return (
    <figure className="chart">
      <svg role="img" aria-label={title} width={width} height={height} viewBox={`0 0 ${width} ${height}`}>
        <rect x={PAD.left} y={PAD.top} width={plotWidth} height={plotHeight} fill="none" stroke="currentColor" strokeOpacity={0.25} />
        <text x={PAD.left - 4} y={PAD.top + 10} textAnchor="end" fontSize={10} fill="currentColor">{axisY(yMax)}</text>
        <text x={PAD.left - 4} y={PAD.top + plotHeight} textAnchor="end" fontSize={10} fill="currentColor">{axisY(yMin)}</text>
        <text x={PAD.left} y={height - 6} fontSize={10} fill="currentColor">{xMin}</text>
        <text x={PAD.left + plotWidth} y={height - 6} textAnchor="end" fontSize={10} fill="currentColor">{xMax}</text>
        {series.map((s) => {
          const points = s.points.filter((p) => Number.isFinite(p.y));
          return (
            <g key={s.name} data-series={s.name}>
              {points.length > 1 && (
                <polyline fill="none" stroke={s.color} strokeWidth={1.5} points={points.map((p) => `${sx(p.x).toFixed(1)},${sy(p.y).toFixed(1)}`).join(' ')} />
              )}
              {points.map((p) => (
                <circle key={p.x} data-testid="chart-point" cx={sx(p.x).toFixed(1)} cy={sy(p.y).toFixed(1)} r={2.5} fill={s.color}>
                  <title>{`${s.name} at step ${p.x}: ${pointY(p.y)}`}</title>
                </circle>
              ))}
            </g>
          );
        })}
      </svg>
      <figcaption>
        {title}:{' '}
        {series.map((s) => (
          <span key={s.name} className="legend-item">
            <span className="swatch" style={{ background: s.color }} /> {s.name}
          </span>
        ))}
      </figcaption>
    </figure>
  );
}
