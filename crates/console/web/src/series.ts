// Names and summaries of metric series.
import type { Series } from './api';
import { fieldText } from './format';

/** `{SrcK8S_Namespace: a, DstK8S_Namespace: b}` → `a → b`; other labels joined. */
export function seriesName(metric: Record<string, string>): string {
  const src = Object.entries(metric)
    .filter(([k]) => k.startsWith('Src'))
    .map(([, v]) => v)
    .filter(Boolean);
  const dst = Object.entries(metric)
    .filter(([k]) => k.startsWith('Dst'))
    .map(([, v]) => v)
    .filter(Boolean);
  const other = Object.entries(metric)
    .filter(([k]) => !k.startsWith('Src') && !k.startsWith('Dst'))
    .map(([k, v]) => (k === 'Proto' || k === 'FlowDirection' ? fieldText(k, v) : v));
  const side = (v: string[], raw: Record<string, string>, p: string) =>
    v.length ? v.join('/') : (raw[`${p}Addr`] ?? (Object.keys(raw).some((k) => k.startsWith(p)) ? 'external' : ''));
  const parts: string[] = [];
  if (src.length || dst.length || Object.keys(metric).some((k) => k.startsWith('Src') || k.startsWith('Dst'))) {
    parts.push(`${side(src, metric, 'Src') || 'external'} → ${side(dst, metric, 'Dst') || 'external'}`);
  }
  if (other.length) parts.push(other.join(' '));
  return parts.join(' ') || 'total';
}

/** The mean of a series' values. */
export function mean(s: Series): number {
  const v = s.values.map(([, x]) => Number(x)).filter(Number.isFinite);
  return v.length ? v.reduce((a, b) => a + b, 0) / v.length : 0;
}

/** The sum of a series' values. */
export function total(s: Series): number {
  return s.values
    .map(([, x]) => Number(x))
    .filter(Number.isFinite)
    .reduce((a, b) => a + b, 0);
}
