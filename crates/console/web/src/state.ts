// The view's settings read from the URL, and the backend query they make.
import { createContext, useContext, useEffect, useMemo, useState } from 'react';
import type { FrontendConfig } from './api';
import { backendFilters, Filter, Match, parseFilters, quickToFilters } from './filters';
import { defaultRecordType } from './recordTypes';
import { useUrl, UrlChanges } from './url';

/** The frontend configuration, loaded once by the page. */
export const ConfigContext = createContext<FrontendConfig | null>(null);

/** Filters always applied (a resource tab's resource), not shown in the URL. */
export const ForcedFiltersContext = createContext<Filter[]>([]);

/** The loaded configuration (the page renders nothing that needs it before it is there). */
export function useConfig(): FrontendConfig {
  const c = useContext(ConfigContext);
  if (!c) throw new Error('configuration not loaded');
  return c;
}

/** Time range choices, seconds back from now. */
export const TIME_RANGES: [number, string][] = [
  [300, 'Last 5 minutes'],
  [900, 'Last 15 minutes'],
  [1800, 'Last 30 minutes'],
  [3600, 'Last 1 hour'],
  [21600, 'Last 6 hours'],
  [86400, 'Last 1 day'],
  [604800, 'Last 1 week'],
];

/** Refresh interval choices, seconds (0 = off). */
export const REFRESH: [number, string][] = [
  [0, 'Refresh off'],
  [15, '15 seconds'],
  [30, '30 seconds'],
  [60, '1 minute'],
  [300, '5 minutes'],
];

/** Everything the queries depend on. */
export interface ViewState {
  filters: Filter[];
  match: Match;
  quick: string[];
  timeRange: number;
  startTime?: number;
  endTime?: number;
  refresh: number;
  limit: number;
  /** `flowLog`, or the conversation events read. */
  recordType: string;
  /** `filters=…&timeRange=…` (or start/end), without `limit`: what the metrics tabs query
   * (flow logs, or Prometheus). */
  query: string;
  /** `query` with the record type: what the Traffic flows tab queries. */
  recordsQuery: string;
  set: (c: UrlChanges, push?: boolean) => void;
  params: URLSearchParams;
}

/** The view state from the URL. `quick` absent means the configuration's default quick filters. */
export function useViewState(): ViewState {
  const [params, set] = useUrl();
  const config = useContext(ConfigContext);
  const forced = useContext(ForcedFiltersContext);
  const search = params.toString();
  return useMemo(() => {
    const p = new URLSearchParams(search);
    const filters = parseFilters(p.get('filters'));
    const m = p.get('match');
    const match: Match = m === 'any' || m === 'bidirectional' ? m : 'all';
    const quickParam = p.get('quick');
    const quick =
      quickParam === null
        ? (config?.quickFilters ?? []).filter((q) => q.default).map((q) => q.name)
        : quickParam.split(',').filter((q) => q && q !== 'none');
    const quickFilters = (config?.quickFilters ?? [])
      .filter((q) => quick.includes(q.name))
      .flatMap((q) => quickToFilters(q.filter))
      .concat(forced);
    const startTime = p.get('startTime') ? Number(p.get('startTime')) : undefined;
    const endTime = p.get('endTime') ? Number(p.get('endTime')) : undefined;
    const timeRange = Number(p.get('timeRange') ?? 300) || 300;
    const refresh = Number(p.get('refresh') ?? 0) || 0;
    const limit = Number(p.get('limit') ?? 1000) || 1000;
    const q = new URLSearchParams();
    const f = backendFilters(filters, match, quickFilters);
    if (f) q.set('filters', f);
    if (startTime !== undefined) {
      q.set('startTime', String(startTime));
      if (endTime !== undefined) q.set('endTime', String(endTime));
    } else q.set('timeRange', String(timeRange));
    // Query options, passed through as the backend names them.
    for (const k of ['packetLoss', 'dataSource']) {
      const v = p.get(k);
      if (v) q.set(k, v);
    }
    const query = q.toString();
    // The record type (Traffic flows only) defaults to what the configuration stores: no flow
    // logs with `logTypes: Conversations`.
    const recordType = p.get('recordType') ?? defaultRecordType(config);
    if (recordType !== 'flowLog') q.set('recordType', recordType);
    const recordsQuery = q.toString();
    return { filters, match, quick, timeRange, startTime, endTime, refresh, limit, recordType, query, recordsQuery, set, params: p };
  }, [search, config, set, forced]);
}

/** A counter that increases every `seconds` (0: never) and on `bump()`. */
export function useTick(seconds: number): [number, () => void] {
  const [tick, setTick] = useState(0);
  useEffect(() => {
    if (!seconds) return undefined;
    const t = window.setInterval(() => setTick((x) => x + 1), seconds * 1000);
    return () => window.clearInterval(t);
  }, [seconds]);
  return [tick, () => setTick((x) => x + 1)];
}

/**
 * Loads `load()` whenever `key` changes; the last answer, error and loading flag. When a load
 * fails, the previous answer stays only if it answered the same `base` (a refresh of the same
 * query), so a failed refresh keeps the rows while a refused new query shows its error alone.
 */
export function useLoad<T>(
  key: string,
  load: (signal: AbortSignal) => Promise<T>,
  base: string = key,
): { data?: T; error?: Error; loading: boolean; base?: string } {
  const [state, setState] = useState<{ data?: T; error?: Error; loading: boolean; base?: string }>({ loading: true });
  useEffect(() => {
    const ctl = new AbortController();
    setState((s) => ({ ...s, loading: true }));
    load(ctl.signal).then(
      (data) => !ctl.signal.aborted && setState({ data, loading: false, base }),
      (error: Error) =>
        !ctl.signal.aborted &&
        error.name !== 'AbortError' &&
        setState((s) => (s.base === base ? { data: s.data, error, loading: false, base } : { error, loading: false })),
    );
    return () => ctl.abort();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key]);
  return state;
}
