// The Network Health model: the operator's health rules (PrometheusRule groups whose rules
// carry the `netobserv_io_network_health` metadata) turned into violations per entity — a
// firing or pending alert, or a recording rule's current value above one of its thresholds.

export type Severity = 'critical' | 'warning' | 'info';
/** Worst first. */
export const SEVERITIES: Severity[] = ['critical', 'warning', 'info'];
export type Scope = 'Global' | 'Node' | 'Namespace' | 'Workload';

/** What the operator writes in `netobserv_io_network_health` (JSON). */
export interface HealthMeta {
  template: string;
  groupBy: Scope;
  thresholds: Partial<Record<Severity, string>>;
  lowVolumeThreshold?: string;
}

/** One rule of Prometheus's `/api/v1/rules` answer (the fields read here). */
export interface PromRule {
  type: 'alerting' | 'recording';
  name: string;
  query?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  alerts?: { labels: Record<string, string>; state: string; value: string; activeAt?: string }[];
}

/** `/api/v1/rules` answer. */
export interface RulesAnswer {
  data?: { groups?: { name: string; rules: PromRule[] }[] };
}

/** A vector sample of `/api/v1/query`. */
export interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

/** A problem of one entity: which rule, how bad, by how much. */
export interface Violation {
  template: string;
  scope: Scope;
  /** The node, namespace or workload; `''` for Global. */
  entity: string;
  severity: Severity;
  /** Percent, as the rules compute it. */
  value: number;
  /** The threshold it passed (percent), when known. */
  threshold?: number;
  kind: 'alert' | 'recording';
  /** `firing` or `pending` for alerts. */
  state?: string;
  rule: string;
}

/** A health rule read from Prometheus. */
export interface HealthRule {
  rule: PromRule;
  meta: HealthMeta;
}

/** The rules the operator wrote for the Network Health page (others are ignored). */
export function healthRules(answer: RulesAnswer): HealthRule[] {
  const out: HealthRule[] = [];
  for (const g of answer.data?.groups ?? []) {
    for (const rule of g.rules ?? []) {
      const text = rule.annotations?.netobserv_io_network_health ?? rule.labels?.netobserv_io_network_health;
      if (!text) continue;
      try {
        const meta = JSON.parse(text) as HealthMeta;
        if (meta.template && meta.groupBy) out.push({ rule, meta });
      } catch {
        // metadata that is not JSON: not a rule this page can read
      }
    }
  }
  return out;
}

/** The labels naming the entity of each scope, in the order they are looked for (the health
 * rules group by the flow metrics' labels, or by node-exporter's and HAProxy's). */
const ENTITY_LABELS: Record<Scope, string[]> = {
  Global: [],
  Node: ['DstK8S_HostName', 'SrcK8S_HostName', 'K8S_HostName', 'node', 'instance'],
  Namespace: ['DstK8S_Namespace', 'SrcK8S_Namespace', 'K8S_Namespace', 'exported_namespace', 'namespace'],
  Workload: ['DstK8S_OwnerName', 'SrcK8S_OwnerName', 'K8S_OwnerName', 'workload'],
};

/** The entity a series or alert is about. */
export function entityOf(labels: Record<string, string>, scope: Scope): string {
  for (const l of ENTITY_LABELS[scope]) {
    if (labels[l]) {
      const ns = scope === 'Workload' ? (labels.DstK8S_Namespace ?? labels.SrcK8S_Namespace ?? labels.K8S_Namespace) : undefined;
      return ns ? `${ns}/${labels[l]}` : labels[l];
    }
  }
  return '';
}

/** The worst severity whose threshold `value` passes, with that threshold. */
export function severityOf(value: number, thresholds: HealthMeta['thresholds']): { severity: Severity; threshold: number } | null {
  for (const severity of SEVERITIES) {
    const t = thresholds[severity];
    if (t === undefined || t === '') continue;
    const threshold = Number(t);
    if (Number.isFinite(threshold) && value >= threshold) return { severity, threshold };
  }
  return null;
}

/** Violations of an alerting rule: its firing and pending alerts. */
export function alertViolations({ rule, meta }: HealthRule): Violation[] {
  const severity = (rule.labels?.severity ?? 'warning') as Severity;
  const threshold = Number(meta.thresholds[severity]);
  return (rule.alerts ?? [])
    .filter((a) => a.state === 'firing' || a.state === 'pending')
    .map((a) => ({
      template: meta.template,
      scope: meta.groupBy,
      entity: entityOf(a.labels, meta.groupBy),
      severity: SEVERITIES.includes(severity) ? severity : 'warning',
      value: Number(a.value),
      threshold: Number.isFinite(threshold) ? threshold : undefined,
      kind: 'alert',
      state: a.state,
      rule: rule.name,
    }));
}

/** Violations of a recording rule: its series whose current value passes a threshold. */
export function recordingViolations({ rule, meta }: HealthRule, samples: Sample[]): Violation[] {
  const out: Violation[] = [];
  for (const s of samples) {
    const value = Number(s.value[1]);
    if (!Number.isFinite(value)) continue;
    const hit = severityOf(value, meta.thresholds);
    if (!hit) continue;
    out.push({
      template: meta.template,
      scope: meta.groupBy,
      entity: entityOf(s.metric, meta.groupBy),
      value,
      kind: 'recording',
      rule: rule.name,
      ...hit,
    });
  }
  return out;
}

/** Violations grouped by entity, the entities with the worst problems first. */
export function byEntity(violations: Violation[]): [string, Violation[]][] {
  const groups = new Map<string, Violation[]>();
  for (const v of violations) groups.set(v.entity, [...(groups.get(v.entity) ?? []), v]);
  const rank = (vs: Violation[]) => Math.min(...vs.map((v) => SEVERITIES.indexOf(v.severity)));
  for (const vs of groups.values()) vs.sort((a, b) => SEVERITIES.indexOf(a.severity) - SEVERITIES.indexOf(b.severity) || b.value - a.value);
  return [...groups.entries()].sort((a, b) => rank(a[1]) - rank(b[1]) || b[1].length - a[1].length || a[0].localeCompare(b[0]));
}
