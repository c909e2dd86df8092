// Custom overview panels named the upstream way: `custom_<function>_<aggregateBy>_<type>`
// (e.g. `custom_avg_Dscp_TimeFlowRttNs`, `custom_rate_Proto_Bytes`) in the frontend
// configuration's `panels`.
import type { PanelDef } from './components/Overview';

const FUNCTIONS = ['rate', 'count', 'sum', 'avg', 'min', 'max', 'p90', 'p99'];
const TYPES: Record<string, PanelDef['unit']> = {
  Bytes: 'Bps',
  Packets: 'pps',
  Flows: 'count',
  DnsFlows: 'count',
  PktDropBytes: 'Bps',
  PktDropPackets: 'pps',
  DnsLatencyMs: 'ms',
  TimeFlowRttNs: 'ms',
};

/** The panel a `custom_…` id describes, or null when it is not one. */
export function customPanel(id: string): PanelDef | null {
  const parts = id.split('_');
  if (parts[0] !== 'custom' || parts.length < 4) return null;
  const fn = parts[1];
  const type = parts[parts.length - 1];
  const aggregateBy = parts.slice(2, -1).join('_');
  if (!FUNCTIONS.includes(fn) || !(type in TYPES) || !aggregateBy) return null;
  let unit = TYPES[type];
  if (fn === 'count') unit = 'count';
  else if (fn !== 'rate' && (unit === 'Bps' || unit === 'pps')) unit = 'count';
  return {
    id,
    title: `${fn} of ${type} by ${aggregateBy}`,
    aggregateBy,
    type,
    fn,
    kind: fn === 'count' || fn === 'sum' ? 'donut' : 'top',
    unit,
  };
}
