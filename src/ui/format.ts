// Number formatting for the UI.

export { formatBytes } from '../gpu/context.ts';

/** 1234567 → "1.23 M"; small counts stay exact. */
export function formatCount(count: number): string {
  if (count >= 1e9) return `${(count / 1e9).toFixed(2)} B`;
  if (count >= 1e6) return `${(count / 1e6).toFixed(2)} M`;
  if (count >= 1e4) return `${(count / 1e3).toFixed(1)} K`;
  return String(count);
}

/** A difference like 3.1e-7 in scientific notation, NaN and Infinity as words. */
export function formatDiff(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  return value === 0 ? '0' : value.toExponential(2);
}

/** Decimal megabytes, as download progress is usually read: 12345678 → "12.3 MB" (small sizes keep two decimals). */
export function formatMegabytes(bytes: number): string {
  const megabytes = bytes / 1e6;
  return `${megabytes.toFixed(megabytes < 10 ? 2 : 1)} MB`;
}

/** A transfer speed in MB/s. */
export function formatRate(bytesPerSecond: number): string {
  const rate = bytesPerSecond / 1e6;
  return `${rate.toFixed(rate < 10 ? 2 : 1)} MB/s`;
}
