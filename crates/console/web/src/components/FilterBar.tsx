// The filter toolbar: add a filter (with autocompletion), the active filters as chips, match
// all / any / back-and-forth, quick filters. Everything is kept in the URL.
import { Button, Checkbox, Flex, FlexItem, FormSelect, FormSelectOption, Label, LabelGroup } from '@patternfly/react-core';
import { useEffect, useState } from 'react';
import { getJson } from '../api';
import { Compare, Filter, filtersText, isExact } from '../filters';
import { filterLabel } from '../labels';
import { useConfig, ViewState } from '../state';
import { ValueInput } from './ValueInput';

const KINDS = ['Pod', 'Service', 'Node', 'Deployment', 'DaemonSet', 'StatefulSet', 'ReplicaSet', 'Job', 'CronJob'];
const STATIC: Record<string, string[]> = {
  protocol: ['TCP', 'UDP', 'ICMP', 'ICMPv6', 'SCTP'],
  node_direction: ['0', '1', '2'],
  flow_layer: ['app', 'infra'],
  dns_flag_response_code: ['NoError', 'FormErr', 'ServFail', 'NXDomain', 'NotImp', 'Refused'],
  pkt_drop_state: ['TCP_ESTABLISHED', 'TCP_SYN_SENT', 'TCP_SYN_RECV', 'TCP_FIN_WAIT1', 'TCP_CLOSE', 'TCP_NEW_SYN_RECV'],
  ipsec_status: ['success', 'error'],
};

/** Where the values of a filter come from. */
function suggestionPath(id: string, filters: Filter[]): string | null {
  const bare = id.replace(/^(src|dst)_/, '');
  if (bare === 'namespace') return '/api/resources/namespaces';
  if (bare === 'zone') return '/api/resources/zones';
  if (bare === 'cluster_name') return '/api/resources/clusters';
  if (bare === 'name' || bare === 'owner_name') {
    const kind = filters.find((f) => f.id.replace(/^(src|dst)_/, '') === 'kind')?.values[0]?.replace(/"/g, '');
    const ns = filters.find((f) => f.id.replace(/^(src|dst)_/, '') === 'namespace')?.values[0]?.replace(/"/g, '');
    const k = kind ?? (bare === 'owner_name' ? 'Deployment' : 'Pod');
    return `/api/resources/names?kind=${encodeURIComponent(k)}${ns ? `&namespace=${encodeURIComponent(ns)}` : ''}`;
  }
  return null;
}

export function FilterBar({ view }: { view: ViewState }) {
  const config = useConfig();
  const [id, setId] = useState(view.params.get('filterId') ?? 'namespace');
  const [compare, setCompare] = useState<Compare>('=');
  const [text, setText] = useState('');
  const [suggestions, setSuggestions] = useState<string[]>([]);
  const timeQuery = view.query.replace(/(^|&)filters=[^&]*/, '');

  useEffect(() => {
    const bare = id.replace(/^(src|dst)_/, '');
    if (bare === 'kind') return setSuggestions(KINDS);
    if (STATIC[bare]) return setSuggestions(STATIC[bare]);
    const path = suggestionPath(id, view.filters);
    if (!path) return setSuggestions([]);
    const ctl = new AbortController();
    getJson<string[]>(`${path}${path.includes('?') ? '&' : '?'}${timeQuery}`, ctl.signal).then(
      (v) => setSuggestions(Array.isArray(v) ? v.filter((x) => x !== '') : []),
      () => setSuggestions([]),
    );
    return () => ctl.abort();
  }, [id, timeQuery, view.filters]);

  const write = (filters: Filter[]) => view.set({ filters: filtersText(filters) || undefined });
  const add = (value: string) => {
    if (!value) return;
    const existing = view.filters.find((f) => f.id === id && f.compare === compare);
    const next = existing
      ? view.filters.map((f) => (f === existing && !f.values.includes(value) ? { ...f, values: [...f.values, value] } : f))
      : [...view.filters, { id, compare, values: [value] }];
    write(next);
    setText('');
  };
  const remove = (f: Filter, value: string) =>
    write(
      view.filters.map((x) => (x === f ? { ...x, values: x.values.filter((v) => v !== value) } : x)).filter((x) => x.values.length > 0),
    );
  const toggleQuick = (name: string, on: boolean) => {
    const next = on ? [...view.quick, name] : view.quick.filter((q) => q !== name);
    view.set({ quick: next.length ? next.join(',') : 'none' });
  };

  return (
    <Flex direction={{ default: 'column' }} spaceItems={{ default: 'spaceItemsSm' }} data-test="filter-bar">
      <Flex spaceItems={{ default: 'spaceItemsSm' }} alignItems={{ default: 'alignItemsCenter' }}>
        <FlexItem>
          <FormSelect value={id} onChange={(_e, v) => setId(v)} aria-label="Filter" data-test="filter-id" style={{ minWidth: '14rem' }}>
            {config.filters.map((f) => (
              <FormSelectOption key={f.id} value={f.id} label={filterLabel(f.id)} />
            ))}
          </FormSelect>
        </FlexItem>
        <FlexItem>
          <FormSelect value={compare} onChange={(_e, v) => setCompare(v as Compare)} aria-label="Comparison" data-test="filter-compare">
            <FormSelectOption value="=" label="equals" />
            <FormSelectOption value="!=" label="not equals" />
            <FormSelectOption value=">=" label="more than or equal" />
          </FormSelect>
        </FlexItem>
        <FlexItem>
          <ValueInput
            value={text}
            onChange={setText}
            onSubmit={add}
            suggestions={suggestions}
            placeholder={`Filter by ${filterLabel(id).toLowerCase()}`}
          />
        </FlexItem>
        <FlexItem>
          <Button variant="control" onClick={() => add(text.trim())} isDisabled={!text.trim()} data-test="filter-add">
            Add
          </Button>
        </FlexItem>
        <FlexItem>
          <FormSelect
            value={view.match}
            onChange={(_e, v) => view.set({ match: v === 'all' ? undefined : v })}
            aria-label="Match"
            data-test="filter-match"
          >
            <FormSelectOption value="all" label="Match all" />
            <FormSelectOption value="any" label="Match any" />
            <FormSelectOption value="bidirectional" label="Back and forth" />
          </FormSelect>
        </FlexItem>
        {(config.quickFilters ?? []).map((q) => (
          <FlexItem key={q.name}>
            <Checkbox
              id={`quick-${q.name}`}
              label={q.name}
              isChecked={view.quick.includes(q.name)}
              onChange={(_e, on) => toggleQuick(q.name, on)}
              data-test={`quick-${q.name}`}
            />
          </FlexItem>
        ))}
      </Flex>
      {view.filters.length > 0 && (
        <Flex spaceItems={{ default: 'spaceItemsSm' }} alignItems={{ default: 'alignItemsCenter' }} data-test="active-filters">
          {view.filters.map((f) => (
            <FlexItem key={`${f.id}${f.compare}`}>
              <LabelGroup categoryName={`${filterLabel(f.id)} ${f.compare === '=' ? '' : f.compare}`.trim()} numLabels={5}>
                {f.values.map((v) => (
                  <Label key={v} variant="outline" onClose={() => remove(f, v)} closeBtnAriaLabel={`Remove ${v}`}>
                    {isExact(v) ? v.slice(1, -1) : `~${v}`}
                  </Label>
                ))}
              </LabelGroup>
            </FlexItem>
          ))}
          <FlexItem>
            <Button variant="link" onClick={() => view.set({ filters: undefined })} data-test="filters-clear">
              Clear all filters
            </Button>
          </FlexItem>
        </Flex>
      )}
    </Flex>
  );
}
