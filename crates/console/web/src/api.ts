// Calls to the console backend (reference §B.2) and the shapes of its answers.

let base = '';

/** Where the backend is: '' standalone, the console's plugin proxy in the OpenShift console. */
export function setApiBase(b: string) {
  base = b.replace(/\/$/, '');
}

/** A failed call, with a message fit for the page. */
export class ApiError extends Error {
  constructor(
    message: string,
    public status: number,
  ) {
    super(message);
  }
}

/** The capture file being viewed (`capture=<id>` in the page URL), added to every query. */
function withCapture(path: string): string {
  const capture = new URLSearchParams(window.location.search).get('capture');
  if (!capture || path.startsWith('/api/captures')) return path;
  return `${path}${path.includes('?') ? '&' : '?'}capture=${encodeURIComponent(capture)}`;
}

async function readError(resp: Response): Promise<ApiError> {
  const text = await resp.text().catch(() => '');
  let message = text.trim();
  try {
    const parsed = JSON.parse(text);
    if (parsed && typeof parsed.message === 'string') message = parsed.message;
  } catch {
    // not JSON: keep the text
  }
  if (!message) message = resp.statusText || 'no details given';
  return new ApiError(`The backend answered ${resp.status}: ${message}`, resp.status);
}

/** GET `path`, parsed as JSON. */
export async function getJson<T>(path: string, signal?: AbortSignal): Promise<T> {
  let resp: Response;
  try {
    resp = await fetch(`${base}${withCapture(path)}`, { signal, headers: { Accept: 'application/json' } });
  } catch (e) {
    if ((e as Error).name === 'AbortError') throw e;
    throw new ApiError(`Cannot reach the console backend: ${(e as Error).message}`, 0);
  }
  if (!resp.ok) throw await readError(resp);
  try {
    return (await resp.json()) as T;
  } catch (e) {
    throw new ApiError(`The backend's answer is not JSON: ${(e as Error).message}`, resp.status);
  }
}

/** The URL of `path` on the backend (for downloads). */
export function apiUrl(path: string): string {
  return `${base}${withCapture(path)}`;
}

/** Uploads a capture file; answers its id. */
export async function uploadCapture(file: File): Promise<{ id: string; name?: string; startMs?: number; endMs?: number; flows?: number }> {
  let resp: Response;
  try {
    resp = await fetch(`${base}/api/captures?name=${encodeURIComponent(file.name)}`, {
      method: 'POST',
      body: file,
      headers: { 'Content-Type': 'application/octet-stream' },
    });
  } catch (e) {
    throw new ApiError(`Cannot reach the console backend: ${(e as Error).message}`, 0);
  }
  if (!resp.ok) throw await readError(resp);
  return resp.json();
}

/** A column of the frontend configuration. */
export interface ColumnConfig {
  id: string;
  name: string;
  field?: string;
  fields?: string[];
  group?: string;
  default?: boolean;
  feature?: string;
}

/** A filter definition of the frontend configuration. */
export interface FilterConfig {
  id: string;
  fields: string[];
  either?: boolean;
}

/** A scope of the frontend configuration. */
export interface ScopeConfig {
  id: string;
  name: string;
  labels: string[];
  stepInto?: string | null;
}

/** The `/api/frontend-config` answer (the keys this UI reads). */
export interface FrontendConfig {
  columns: ColumnConfig[];
  filters: FilterConfig[];
  scopes: ScopeConfig[];
  panels?: string[];
  quickFilters?: { name: string; filter: Record<string, string>; default?: boolean }[];
  features?: string[];
  /** Record types stored (`processor.logTypes`): `flowLog` and/or the connection events. */
  recordTypes?: string[];
  captureUpload?: boolean;
  dataSources?: string[];
  buildVersion?: string;
}

/** A flow record: the JSON line merged with its stream labels. */
export type FlowRecord = Record<string, unknown>;

interface Streams {
  result: { stream: Record<string, string>; values: [string, string][] }[];
  stats?: { limitReached?: boolean };
}

/** Records of `/api/loki/flow/records`, newest first. */
export async function getRecords(query: string, signal?: AbortSignal): Promise<{ records: FlowRecord[]; limitReached: boolean }> {
  const answer = await getJson<Streams>(`/api/loki/flow/records?${query}`, signal);
  const records: FlowRecord[] = [];
  for (const s of answer.result ?? []) {
    for (const [ts, line] of s.values) {
      let rec: FlowRecord;
      try {
        rec = JSON.parse(line);
      } catch {
        rec = { _unparsed: line };
      }
      for (const [k, v] of Object.entries(s.stream)) {
        if (!(k in rec)) rec[k] = /^\d+$/.test(v) && k === 'FlowDirection' ? Number(v) : v;
      }
      rec._ts = ts;
      records.push(rec);
    }
  }
  records.sort((a, b) => Number(b.TimeFlowEndMs ?? 0) - Number(a.TimeFlowEndMs ?? 0));
  return { records, limitReached: !!answer.stats?.limitReached };
}

/** One series of `/api/flow/metrics`. */
export interface Series {
  metric: Record<string, string>;
  values: [number, string][];
}

/** Series of `/api/flow/metrics`. */
export async function getMetrics(query: string, signal?: AbortSignal): Promise<Series[]> {
  const answer = await getJson<{ result: Series[] }>(`/api/flow/metrics?${query}`, signal);
  return answer.result ?? [];
}
