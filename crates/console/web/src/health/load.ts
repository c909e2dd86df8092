// Reads the health rules and the current value of each recording rule from the backend's
// Prometheus API (`/api/prometheus/api/v1/...`), and turns them into violations.
import { getJson } from '../api';
import { alertViolations, healthRules, recordingViolations, RulesAnswer, Sample, Violation } from './model';

/** Everything the page shows: how many health rules there are, and what they report. */
export interface Health {
  rules: number;
  violations: Violation[];
}

export async function loadHealth(signal: AbortSignal): Promise<Health> {
  const rules = healthRules(await getJson<RulesAnswer>('/api/prometheus/api/v1/rules', signal));
  const parts = await Promise.all(
    rules.map(async (r) => {
      if (r.rule.type === 'alerting') return alertViolations(r);
      const answer = await getJson<{ data?: { result?: Sample[] } }>(
        `/api/prometheus/api/v1/query?query=${encodeURIComponent(r.rule.name)}`,
        signal,
      );
      return recordingViolations(r, answer.data?.result ?? []);
    }),
  );
  return { rules: rules.length, violations: parts.flat() };
}
