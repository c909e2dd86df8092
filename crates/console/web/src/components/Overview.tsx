// The Overview tab: panels of metrics (top rates, drops by cause and TCP state, DNS latency and
// response codes, RTT), each one query of `/api/flow/metrics`; a panel picker; the scope.
import {
  Card,
  CardBody,
  CardTitle,
  Flex,
  FlexItem,
  FormSelect,
  FormSelectOption,
  Gallery,
  Select,
  SelectList,
  SelectOption,
  MenuToggle,
} from '@patternfly/react-core';
import { useEffect, useState } from 'react';
import { markRendered } from '../perf';
import { customPanel } from '../panels';
import { getMetrics } from '../api';
import { useConfig, useLoad, ViewState } from '../state';
import { ErrorMessage, Loading } from './Messages';
import { PanelChart } from './PanelChart';

/** An overview panel: what it queries and how it is drawn. */
export interface PanelDef {
  id: string;
  title: string;
  /** `aggregateBy`; `scope` means the scope chosen in the toolbar. */
  aggregateBy: string;
  type: string;
  fn: string;
  kind: 'top' | 'lines' | 'donut' | 'sankey';
  unit: 'Bps' | 'pps' | 'ms' | 'count';
}

export const PANELS: PanelDef[] = [
  { id: 'top_avg_byte_rates', title: 'Top average byte rates', aggregateBy: 'scope', type: 'Bytes', fn: 'rate', kind: 'top', unit: 'Bps' },
  {
    id: 'top_sankey',
    title: 'Top flows: sources to destinations',
    aggregateBy: 'scope',
    type: 'Bytes',
    fn: 'rate',
    kind: 'sankey',
    unit: 'Bps',
  },
  {
    id: 'byte_rates',
    title: 'Top talkers over time (stacked byte rates)',
    aggregateBy: 'scope',
    type: 'Bytes',
    fn: 'rate',
    kind: 'lines',
    unit: 'Bps',
  },
  {
    id: 'top_avg_packet_rates',
    title: 'Top average packet rates',
    aggregateBy: 'scope',
    type: 'Packets',
    fn: 'rate',
    kind: 'top',
    unit: 'pps',
  },
  {
    id: 'dropped_packet_rates',
    title: 'Top dropped packet rates',
    aggregateBy: 'scope',
    type: 'PktDropPackets',
    fn: 'rate',
    kind: 'top',
    unit: 'pps',
  },
  {
    id: 'state_dropped_packet_rates',
    title: 'Dropped packets by TCP state',
    aggregateBy: 'PktDropLatestState',
    type: 'PktDropPackets',
    fn: 'rate',
    kind: 'donut',
    unit: 'pps',
  },
  {
    id: 'cause_dropped_packet_rates',
    title: 'Dropped packets by cause',
    aggregateBy: 'PktDropLatestDropCause',
    type: 'PktDropPackets',
    fn: 'rate',
    kind: 'donut',
    unit: 'pps',
  },
  {
    id: 'top_avg_dns_latency',
    title: 'Top average DNS latency',
    aggregateBy: 'scope',
    type: 'DnsLatencyMs',
    fn: 'avg',
    kind: 'top',
    unit: 'ms',
  },
  {
    id: 'rcode_dns_latency_flows',
    title: 'DNS response codes',
    aggregateBy: 'DnsFlagsResponseCode',
    type: 'DnsFlows',
    fn: 'count',
    kind: 'donut',
    unit: 'count',
  },
  {
    id: 'top_avg_rtt',
    title: 'Top average TCP smoothed RTT',
    aggregateBy: 'scope',
    type: 'TimeFlowRttNs',
    fn: 'avg',
    kind: 'top',
    unit: 'ms',
  },
  {
    id: 'top_max_rtt',
    title: 'Top maximum TCP smoothed RTT',
    aggregateBy: 'scope',
    type: 'TimeFlowRttNs',
    fn: 'max',
    kind: 'top',
    unit: 'ms',
  },
];

function Panel({
  def,
  view,
  scope,
  tick,
  onDone,
}: {
  def: PanelDef;
  view: ViewState;
  scope: string;
  tick: number;
  onDone: (id: string) => void;
}) {
  const by = def.aggregateBy === 'scope' ? scope : def.aggregateBy;
  const q = `${view.query}&aggregateBy=${by}&type=${def.type}&function=${def.fn}&limit=${def.kind === 'lines' ? 5 : 8}`;
  const [retry, setRetry] = useState(0);
  const { data, error, loading } = useLoad(`${q}#${tick}#${retry}`, (s) => getMetrics(q, s), q);
  useEffect(() => {
    if (data || error) onDone(def.id);
  }, [data, error, def.id, onDone]);
  return (
    <Card isCompact data-test={`panel-${def.id}`} style={{ minHeight: '22rem' }}>
      <CardTitle>{def.title}</CardTitle>
      <CardBody>
        {error ? (
          <ErrorMessage error={error} what={def.title.toLowerCase()} retry={() => setRetry(retry + 1)} />
        ) : loading && !data ? (
          <Loading what={def.title} />
        ) : (
          <PanelChart def={def} series={data ?? []} scopeId={by} />
        )}
      </CardBody>
    </Card>
  );
}

export function Overview({ view, tick }: { view: ViewState; tick: number }) {
  const config = useConfig();
  const [pickerOpen, setPickerOpen] = useState(false);
  const [done] = useState(() => new Set<string>());
  const custom = (config.panels ?? []).map(customPanel).filter((p): p is PanelDef => !!p);
  const available = [...PANELS, ...custom];
  const configured = config.panels?.filter((p) => available.some((d) => d.id === p));
  const chosen = view.params.get('panels')?.split(',') ?? (configured?.length ? configured : PANELS.map((p) => p.id));
  const scope = view.params.get('scope') ?? 'namespace';
  const shown = available.filter((p) => chosen.includes(p.id));
  const onDone = (id: string) => {
    done.add(id);
    if (shown.every((p) => done.has(p.id))) markRendered('overview');
  };
  const toggle = (id: string) => {
    const next = chosen.includes(id) ? chosen.filter((x) => x !== id) : [...chosen, id];
    view.set({ panels: next.join(',') || 'none' });
  };
  return (
    <>
      <Flex spaceItems={{ default: 'spaceItemsSm' }} style={{ marginBottom: '1rem' }}>
        <FlexItem>
          <FormSelect value={scope} onChange={(_e, v) => view.set({ scope: v })} aria-label="Scope" data-test="overview-scope">
            {config.scopes.map((s) => (
              <FormSelectOption key={s.id} value={s.id} label={`Scope: ${s.name}`} />
            ))}
          </FormSelect>
        </FlexItem>
        <FlexItem>
          <Select
            isOpen={pickerOpen}
            onOpenChange={setPickerOpen}
            onSelect={(_e, v) => toggle(String(v))}
            toggle={(ref) => (
              <MenuToggle ref={ref} onClick={() => setPickerOpen(!pickerOpen)} isExpanded={pickerOpen} data-test="panel-picker">
                Panels ({shown.length}/{available.length})
              </MenuToggle>
            )}
          >
            <SelectList>
              {available.map((p) => (
                <SelectOption key={p.id} value={p.id} hasCheckbox isSelected={chosen.includes(p.id)}>
                  {p.title}
                </SelectOption>
              ))}
            </SelectList>
          </Select>
        </FlexItem>
      </Flex>
      <Gallery hasGutter minWidths={{ default: '28rem' }} data-test="overview-panels">
        {shown.map((p) => (
          <Panel key={p.id} def={p} view={view} scope={scope} tick={tick} onDone={onDone} />
        ))}
      </Gallery>
    </>
  );
}
