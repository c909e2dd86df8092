// From metric series to the topology's nodes and edges, for a scope.
import type { ScopeConfig, Series } from './api';
import { mean, total } from './series';

/** A node of the graph: one endpoint at the chosen scope. */
export interface TopoNode {
  id: string;
  label: string;
  /** Field values identifying it, without the Src/Dst prefix (e.g. `K8S_Namespace`). */
  fields: Record<string, string>;
  group?: string;
}

/** An edge: traffic from one node to another with its metric value. */
export interface TopoEdge {
  id: string;
  source: string;
  target: string;
  value: number;
}

/** Field suffixes whose values make a node's label, most telling first. */
const LABEL_ORDER = ['K8S_Name', 'K8S_OwnerName', 'K8S_Namespace', 'K8S_HostName', 'K8S_Zone', 'K8S_ClusterName', 'Addr'];

function side(metric: Record<string, string>, scope: ScopeConfig, prefix: 'Src' | 'Dst'): TopoNode {
  const fields: Record<string, string> = {};
  for (const l of scope.labels) {
    if (l.startsWith(prefix)) {
      const v = metric[l];
      if (v) fields[l.slice(3)] = v;
    } else if (!l.startsWith('Src') && !l.startsWith('Dst')) {
      const v = metric[l];
      if (v) fields[l] = v;
    }
  }
  const keys = Object.keys(fields).sort();
  if (!keys.length) return { id: 'external', label: 'External / unknown', fields };
  const main = LABEL_ORDER.find((k) => fields[k]);
  const ns = fields.K8S_Namespace;
  let label = main ? fields[main] : keys.map((k) => fields[k]).join(' ');
  if (ns && main && main !== 'K8S_Namespace') label = `${ns}/${label}`;
  if (main === 'K8S_Name' && fields.K8S_Type) label = `${fields.K8S_Type} ${label}`;
  if (fields.ProcessName) label = fields.Addr ? `${fields.ProcessName} @ ${fields.Addr}` : fields.ProcessName;
  return { id: keys.map((k) => `${k}=${fields[k]}`).join(','), label, fields, group: scope.id === 'namespace' ? undefined : ns };
}

/** Nodes and edges of `series` (one per source/destination pair). */
export function buildGraph(series: Series[], scope: ScopeConfig, useTotal: boolean): { nodes: TopoNode[]; edges: TopoEdge[] } {
  const nodes = new Map<string, TopoNode>();
  const edges = new Map<string, TopoEdge>();
  for (const s of series) {
    const a = side(s.metric, scope, 'Src');
    const b = side(s.metric, scope, 'Dst');
    nodes.set(a.id, a);
    nodes.set(b.id, b);
    if (a.id === b.id && scope.labels.every((l) => !l.startsWith('Src'))) continue;
    const id = `${a.id}->${b.id}`;
    const value = useTotal ? total(s) : mean(s);
    const prev = edges.get(id);
    edges.set(id, { id, source: a.id, target: b.id, value: (prev?.value ?? 0) + value });
  }
  return { nodes: [...nodes.values()], edges: [...edges.values()] };
}

/** The filter (id, exact value) selecting a node's endpoint at either end, with a side prefix when given. */
export function nodeFilters(node: TopoNode, prefix = ''): [string, string][] {
  const map: Record<string, string> = {
    K8S_Namespace: 'namespace',
    K8S_Name: 'name',
    K8S_OwnerName: 'owner_name',
    K8S_HostName: 'host_name',
    K8S_Zone: 'zone',
    K8S_Type: 'kind',
    Addr: 'address',
  };
  const out: [string, string][] = [];
  for (const [k, v] of Object.entries(node.fields)) {
    if (k === 'K8S_ClusterName') out.push(['cluster_name', `"${v}"`]);
    else if (map[k] && !(k === 'Addr' && node.fields.K8S_Name)) out.push([`${prefix}${map[k]}`, `"${v}"`]);
  }
  return out;
}
