// Unit tests of the Network Health model: which rules are health rules, the severity a value
// reaches, the entity of a series, alerts' states, and the order entities are shown in.
import { describe, expect, test } from 'vitest';
import { byEntity, entityOf, healthRules, recordingViolations, alertViolations, severityOf, RulesAnswer } from '../../src/health/model';

const meta = (template: string, groupBy: string, thresholds: Record<string, string>) =>
  JSON.stringify({ template, groupBy, thresholds, lowVolumeThreshold: '' });

const answer: RulesAnswer = {
  data: {
    groups: [
      {
        name: 'NetObservFlowLogsPipeline',
        rules: [
          { type: 'alerting', name: 'NetObservNoFlows', labels: { severity: 'warning' }, alerts: [] },
          {
            type: 'recording',
            name: 'netobserv:health:dnsnx_domain:namespace:rate2m',
            labels: { netobserv: 'true', netobserv_io_network_health: meta('DNSNxDomain', 'Namespace', { info: '10', warning: '80' }) },
          },
          {
            type: 'alerting',
            name: 'DNSErrors_Global',
            labels: { severity: 'warning' },
            annotations: { netobserv_io_network_health: meta('DNSErrors', 'Global', { warning: '5' }) },
            alerts: [
              { labels: { alertname: 'DNSErrors_Global' }, state: 'pending', value: '36.6' },
              { labels: { alertname: 'DNSErrors_Global' }, state: 'inactive', value: '1' },
            ],
          },
          { type: 'recording', name: 'broken', labels: { netobserv_io_network_health: '{not json' } },
        ],
      },
    ],
  },
};

describe('health rules', () => {
  test('only rules with readable health metadata (label or annotation) are kept', () => {
    expect(healthRules(answer).map((r) => r.rule.name)).toEqual(['netobserv:health:dnsnx_domain:namespace:rate2m', 'DNSErrors_Global']);
  });

  test('the worst threshold passed decides the severity; below every threshold is no violation', () => {
    const t = { info: '10', warning: '80' };
    expect(severityOf(90, t)).toEqual({ severity: 'warning', threshold: 80 });
    expect(severityOf(80, t)).toEqual({ severity: 'warning', threshold: 80 });
    expect(severityOf(20, t)).toEqual({ severity: 'info', threshold: 10 });
    expect(severityOf(9.9, t)).toBeNull();
    expect(severityOf(50, { critical: '', warning: '40' })).toEqual({ severity: 'warning', threshold: 40 });
  });

  test('the entity of a series by scope', () => {
    expect(entityOf({ DstK8S_Namespace: 'shop' }, 'Namespace')).toBe('shop');
    expect(entityOf({ exported_namespace: 'web' }, 'Namespace')).toBe('web');
    expect(entityOf({ instance: '10.0.0.1:9100' }, 'Node')).toBe('10.0.0.1:9100');
    expect(entityOf({ DstK8S_Namespace: 'shop', DstK8S_OwnerName: 'cart' }, 'Workload')).toBe('shop/cart');
    expect(entityOf({ DstK8S_Namespace: 'shop' }, 'Global')).toBe('');
  });

  test('recording samples and active alerts become violations, worst entity first', () => {
    const [nx, dns] = healthRules(answer);
    const samples = [
      { metric: { DstK8S_Namespace: 'web' }, value: [0, '20'] as [number, string] },
      { metric: { DstK8S_Namespace: 'shop' }, value: [0, '90'] as [number, string] },
      { metric: { DstK8S_Namespace: 'quiet' }, value: [0, '0'] as [number, string] },
      { metric: { DstK8S_Namespace: 'nan' }, value: [0, 'NaN'] as [number, string] },
    ];
    const recorded = recordingViolations(nx, samples);
    expect(recorded.map((v) => [v.entity, v.severity, v.value])).toEqual([
      ['web', 'info', 20],
      ['shop', 'warning', 90],
    ]);
    expect(byEntity(recorded).map(([e]) => e)).toEqual(['shop', 'web']);
    const alerts = alertViolations(dns);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ entity: '', severity: 'warning', state: 'pending', value: 36.6, threshold: 5, kind: 'alert' });
  });
});
