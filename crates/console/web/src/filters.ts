// The filter model and its text form: the backend's `filters` syntax (reference §B.3), which is
// also what the page URL carries.

/** How a filter compares. */
export type Compare = '=' | '!=' | '>=';

/** One filter: a filter id (or field), a comparison, values OR'ed. */
export interface Filter {
  id: string;
  compare: Compare;
  values: string[];
}

/** How filters combine. */
export type Match = 'all' | 'any' | 'bidirectional';

/** `namespace=ns-1,"ns-2"&port!=53` → filters. Unreadable parts are skipped. */
export function parseFilters(text: string | null): Filter[] {
  if (!text) return [];
  const out: Filter[] = [];
  for (const part of text.split('&')) {
    const m = /^([A-Za-z0-9_]+)(!=|>=|=)(.*)$/.exec(part);
    if (!m) continue;
    const values = splitValues(m[3]);
    if (values.length) out.push({ id: m[1], compare: m[2] as Compare, values });
  }
  return out;
}

/** Splits `a,"b,c",d` on commas outside quotes. */
function splitValues(text: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (const ch of text) {
    if (ch === '"') quoted = !quoted;
    if (ch === ',' && !quoted) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out.filter((v) => v !== '');
}

/** One filter as text. */
export function filterText(f: Filter): string {
  return `${f.id}${f.compare}${f.values.join(',')}`;
}

/** Filters as the `&`-joined text (one group). */
export function filtersText(filters: Filter[]): string {
  return filters.map(filterText).join('&');
}

/** The id with `src_` and `dst_` swapped (back-and-forth). */
export function swapped(id: string): string {
  if (id.startsWith('src_')) return `dst_${id.slice(4)}`;
  if (id.startsWith('dst_')) return `src_${id.slice(4)}`;
  if (id.startsWith('Src')) return `Dst${id.slice(3)}`;
  if (id.startsWith('Dst')) return `Src${id.slice(3)}`;
  return id;
}

/** Quick-filter definitions as filters: `{"dns_id!": "\"\""}` → `dns_id!=""`. */
export function quickToFilters(def: Record<string, string>): Filter[] {
  return Object.entries(def).map(([k, v]) => {
    const not = k.endsWith('!');
    return { id: not ? k.slice(0, -1) : k, compare: not ? '!=' : '=', values: splitValues(v) };
  });
}

/** The backend's `filters` parameter: OR groups joined by `|`, matches by `&`. */
export function backendFilters(filters: Filter[], match: Match, quick: Filter[]): string {
  let groups: Filter[][];
  if (match === 'any' && filters.length > 1) groups = filters.map((f) => [f]);
  else groups = [filters];
  if (match === 'bidirectional' && filters.length) {
    groups = [filters, filters.map((f) => ({ ...f, id: swapped(f.id) }))];
  }
  return groups
    .map((g) => filtersText([...g, ...quick]))
    .filter((g, i, all) => g !== '' && all.indexOf(g) === i)
    .join('|');
}

/** Whether `value` is an exact (double-quoted) value. */
export function isExact(value: string): boolean {
  return value.length >= 2 && value.startsWith('"') && value.endsWith('"');
}
