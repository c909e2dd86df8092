// The traffic flows table's columns: the configuration's, plus endpoint columns computed from
// several fields (a Kubernetes object with its address, the translated endpoint of a Service flow).
import type { ColumnConfig, FlowRecord } from './api';
import { endpoint, fieldText, networkEvents } from './format';
import { columnLabel } from './labels';

/** A column of the table. */
export interface Column {
  id: string;
  title: string;
  group: string;
  /** Record fields it shows (for CSV export and sorting). */
  fields: string[];
  /** Shown without a choice. */
  isDefault: boolean;
  /** The cell's text. */
  text: (r: FlowRecord) => string;
  /** The value sorted on. */
  sortValue: (r: FlowRecord) => string | number;
  /** Pixels. */
  width: number;
}

const computed: Column[] = [
  {
    id: 'Src',
    title: 'Source',
    group: 'Endpoints',
    fields: ['SrcK8S_Type', 'SrcK8S_Namespace', 'SrcK8S_Name', 'SrcAddr', 'SrcPort'],
    isDefault: true,
    text: (r) => endpoint(r, 'Src'),
    sortValue: (r) => endpoint(r, 'Src'),
    width: 300,
  },
  {
    id: 'Dst',
    title: 'Destination',
    group: 'Endpoints',
    fields: ['DstK8S_Type', 'DstK8S_Namespace', 'DstK8S_Name', 'DstAddr', 'DstPort'],
    isDefault: true,
    text: (r) => endpoint(r, 'Dst'),
    sortValue: (r) => endpoint(r, 'Dst'),
    width: 300,
  },
  {
    id: 'XlatSrcEndpoint',
    title: 'Translated source',
    group: 'Translation',
    fields: ['XlatSrcK8S_Namespace', 'XlatSrcK8S_Name', 'XlatSrcAddr', 'XlatSrcPort'],
    isDefault: false,
    text: (r) => endpoint(r, 'XlatSrc'),
    sortValue: (r) => endpoint(r, 'XlatSrc'),
    width: 260,
  },
  {
    id: 'XlatDstEndpoint',
    title: 'Translated destination',
    group: 'Translation',
    fields: ['XlatDstK8S_Namespace', 'XlatDstK8S_Name', 'XlatDstAddr', 'XlatDstPort'],
    isDefault: true,
    text: (r) => endpoint(r, 'XlatDst'),
    sortValue: (r) => endpoint(r, 'XlatDst'),
    width: 300,
  },
];

/** Shown by default besides the computed endpoints. */
const DEFAULTS = new Set([
  'TimeFlowEndMs',
  'Proto',
  'Bytes',
  'Packets',
  'NetworkEvents',
  'ZoneId',
  'Interfaces',
  'DnsLatencyMs',
  'DnsFlagsResponseCode',
  'TimeFlowRttNs',
  'PktDropPackets',
]);

const GROUPS: [RegExp, string][] = [
  [/^Xlat|^ZoneId$/, 'Translation'],
  [/^Dns/, 'DNS'],
  [/^PktDrop|^NetworkEvents$/, 'Drops and events'],
  [/^TimeFlowRtt/, 'Latency'],
  [/^(Src|Dst)K8S_|^K8S_/, 'Kubernetes'],
  [/^(Interfaces|IfDirections|Udns|Interface|FlowDirection)$/, 'Interfaces'],
];

const WIDTHS: Record<string, number> = {
  NetworkEvents: 420,
  TimeFlowEndMs: 200,
  TimeFlowStartMs: 200,
  Proto: 130,
  Packets: 120,
  Bytes: 120,
  ZoneId: 170,
  Interfaces: 180,
  DnsName: 260,
  PktDropLatestDropCause: 280,
};

/** A field's value; a conversation record's `Bytes` / `Packets` is its two directions' sum
 * (conversation tracking writes `Bytes_AB` and `Bytes_BA`). */
function valueOf(r: FlowRecord, field: string): unknown {
  const v = r[field];
  if (v !== undefined || (field !== 'Bytes' && field !== 'Packets')) return v;
  const ab = r[`${field}_AB`];
  const ba = r[`${field}_BA`];
  if (typeof ab !== 'number' && typeof ba !== 'number') return undefined;
  return (typeof ab === 'number' ? ab : 0) + (typeof ba === 'number' ? ba : 0);
}

/** Every column, from the frontend configuration. */
export function allColumns(config: ColumnConfig[]): Column[] {
  const fromConfig = config.map((c): Column => {
    const field = c.field ?? c.id;
    const group = GROUPS.find(([re]) => re.test(field))?.[1] ?? c.group ?? 'Record';
    return {
      id: c.id,
      title: columnLabel(c.id, c.name),
      group,
      fields: c.fields ?? [field],
      isDefault: DEFAULTS.has(c.id),
      text: (r) => fieldText(field, valueOf(r, field)),
      sortValue: (r) => {
        const v = valueOf(r, field);
        if (typeof v === 'number') return v;
        if (field === 'NetworkEvents') return networkEvents(v).join(';');
        return v === undefined || v === null ? '' : fieldText(field, v);
      },
      width: WIDTHS[field] ?? 130,
    };
  });
  return [...computed, ...fromConfig];
}

/** Shown by default, after the end time, when conversations are tracked: which record, of
 * which conversation (and, on conversation events, how many flow logs it sums). */
const CONVERSATION_DEFAULTS = ['_RecordType', '_HashId'];
const EVENT_DEFAULTS = ['numFlowLogs'];

/** The visible columns: the `cols` URL parameter, or the defaults (with the conversation
 * columns when conversations are tracked, and the event ones when the table reads events). */
export function visibleColumns(
  all: Column[],
  cols: string | null,
  conversations: { tracked: boolean; events: boolean } = { tracked: false, events: false },
): Column[] {
  if (cols) {
    const ids = cols.split(',');
    const byId = new Map(all.map((c) => [c.id, c]));
    const out = ids.map((i) => byId.get(i)).filter((c): c is Column => !!c);
    if (out.length) return out;
  }
  const extra = [...(conversations.tracked ? CONVERSATION_DEFAULTS : []), ...(conversations.events ? EVENT_DEFAULTS : [])];
  const order = ['TimeFlowEndMs', ...extra, 'Src', 'Dst', 'Proto', 'XlatDstEndpoint', 'ZoneId', 'NetworkEvents'];
  const defaults = all.filter((c) => c.isDefault || extra.includes(c.id));
  return defaults.sort((a, b) => {
    const ia = order.indexOf(a.id);
    const ib = order.indexOf(b.id);
    return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib);
  });
}
