// Turning record fields into text a person reads.
import type { FlowRecord } from './api';

const PROTOCOLS: Record<number, string> = {
  1: 'ICMP',
  2: 'IGMP',
  6: 'TCP',
  17: 'UDP',
  41: 'IPv6',
  47: 'GRE',
  50: 'ESP',
  51: 'AH',
  58: 'ICMPv6',
  132: 'SCTP',
};

/** `6` → `TCP`. */
export function protocolName(p: unknown): string {
  const n = Number(p);
  return PROTOCOLS[n] ?? String(p);
}

/** 1536 → `1.5 KB`. */
export function bytes(v: unknown): string {
  const n = Number(v);
  if (!Number.isFinite(n)) return String(v ?? '');
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let x = Math.abs(n);
  let u = 0;
  while (x >= 1000 && u < units.length - 1) {
    x /= 1000;
    u++;
  }
  return `${n < 0 ? '-' : ''}${u === 0 ? x : x.toFixed(1)} ${units[u]}`;
}

/** A number with thousands separators, or a short form. */
export function count(v: unknown): string {
  const n = Number(v);
  if (!Number.isFinite(n)) return String(v ?? '');
  return n >= 1e6
    ? `${(n / 1e6).toFixed(1)}M`
    : n >= 1e4
      ? `${(n / 1e3).toFixed(1)}k`
      : n.toLocaleString('en-US', { maximumFractionDigits: 2 });
}

/** Unix ms → `2023-11-14 22:13:20.123` (local time). */
export function dateTime(ms: unknown): string {
  const n = Number(ms);
  if (!Number.isFinite(n) || n <= 0) return '';
  const d = new Date(n);
  const p = (x: number, w = 2) => String(x).padStart(w, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

/** Nanoseconds → `1.23 ms`. */
export function nsAsMs(v: unknown): string {
  const n = Number(v);
  return Number.isFinite(n) ? `${(n / 1e6).toFixed(n < 1e6 ? 3 : 2)} ms` : '';
}

const DIRECTIONS: Record<string, string> = { '0': 'Ingress', '1': 'Egress', '2': 'Inner' };

/** FlowDirection 0/1/2 → Ingress/Egress/Inner. */
export function flowDirection(v: unknown): string {
  return DIRECTIONS[String(v)] ?? String(v ?? '');
}

const ACTIONS: Record<string, string> = {
  drop: 'Dropped',
  allow: 'Allowed',
  pass: 'Delegated',
  redirect: 'Redirected',
};

const KINDS: Record<string, string> = {
  NetworkPolicy: 'network policy',
  AdminNetworkPolicy: 'admin network policy',
  BaselineAdminNetworkPolicy: 'baseline admin network policy',
  EgressFirewall: 'egress firewall',
  UDNIsolation: 'UDN isolation',
  MulticastNS: 'multicast namespace',
  MulticastCluster: 'cluster-wide multicast',
  NetpolNode: 'node network policy',
  NetpolNamespace: 'namespace network policy',
};

/** One network event as a sentence: "Dropped by network policy deny-egress in namespace ns-1, direction Egress". */
export function networkEvent(ev: Record<string, unknown>): string {
  const action = String(ev.Action ?? '').toLowerCase();
  const verb = ACTIONS[action] ?? (action ? action.charAt(0).toUpperCase() + action.slice(1) : 'Matched');
  const type = String(ev.Type ?? '');
  const kind = KINDS[type] ?? (type || String(ev.Feature ?? 'rule'));
  let s = `${verb} by ${kind}`;
  if (ev.Name) s += ` ${ev.Name}`;
  if (ev.Namespace) s += ` in namespace ${ev.Namespace}`;
  if (ev.Direction) s += `, direction ${ev.Direction}`;
  if (!ev.Action && !ev.Type && ev.Message) s = String(ev.Message);
  return s;
}

/** Every network event of a record, one sentence each. */
export function networkEvents(v: unknown): string[] {
  if (!Array.isArray(v)) return [];
  return v.map((e) => (e && typeof e === 'object' ? networkEvent(e as Record<string, unknown>) : String(e)));
}

/** `Kind namespace/name` of one side (`Src`, `Dst`, `XlatSrc`, `XlatDst`), or its address. */
export function endpoint(r: FlowRecord, side: string): string {
  const name = r[`${side}K8S_Name`];
  const ns = r[`${side}K8S_Namespace`];
  const kind = r[`${side}K8S_Type`];
  const addr = r[`${side}Addr`];
  const port = r[`${side}Port`];
  const where = name ? `${kind ? `${kind} ` : ''}${ns ? `${ns}/` : ''}${name}` : '';
  const ap = addr !== undefined ? `${addr}${port !== undefined ? `:${port}` : ''}` : '';
  return [where, ap && where ? `(${ap})` : ap].filter(Boolean).join(' ');
}

/** Whether a record carries a translated (NAT) endpoint. */
export function hasTranslation(r: FlowRecord): boolean {
  return r.XlatDstAddr !== undefined || r.XlatSrcAddr !== undefined;
}

/** A value of any field as text for the table, the side panel and searches. */
export function fieldText(field: string, v: unknown): string {
  if (v === undefined || v === null || v === '') return '';
  switch (field) {
    case 'TimeFlowStartMs':
    case 'TimeFlowEndMs':
      return dateTime(v);
    case 'TimeReceived':
      return dateTime(Number(v) * 1000);
    case 'Proto':
      return protocolName(v);
    case 'Bytes':
    case 'PktDropBytes':
      return bytes(v);
    case 'TimeFlowRttNs':
      return nsAsMs(v);
    case 'DnsLatencyMs':
      return `${v} ms`;
    case 'FlowDirection':
      return flowDirection(v);
    case 'NetworkEvents':
      return networkEvents(v).join('; ');
    case 'IfDirections':
      return Array.isArray(v) ? v.map((d) => (String(d) === '0' ? 'Ingress' : 'Egress')).join(', ') : String(v);
    default:
      if (Array.isArray(v)) return v.map((x) => (typeof x === 'object' ? JSON.stringify(x) : String(x))).join(', ');
      if (typeof v === 'object') return JSON.stringify(v);
      return String(v);
  }
}
