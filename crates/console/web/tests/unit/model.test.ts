// Unit tests of the UI's pure parts: the filter text (the backend's syntax and the URL's), the
// sentences of network events, endpoints, the topology model and a resource tab's filters.
import { describe, expect, test } from 'vitest';
import { backendFilters, filtersText, parseFilters, quickToFilters, swapped } from '../../src/filters';
import { endpoint, fieldText, networkEvent } from '../../src/format';
import { resourceFilters } from '../../src/plugin/resourceFilters';
import { buildGraph, nodeFilters } from '../../src/topologyModel';

describe('filters', () => {
  test('round trip through text, quoted values with commas kept whole', () => {
    const text = 'src_namespace="ns-1","a,b"&dst_port!=53&dns_latency>=10';
    const f = parseFilters(text);
    expect(f).toEqual([
      { id: 'src_namespace', compare: '=', values: ['"ns-1"', '"a,b"'] },
      { id: 'dst_port', compare: '!=', values: ['53'] },
      { id: 'dns_latency', compare: '>=', values: ['10'] },
    ]);
    expect(filtersText(f)).toBe(text);
  });
  test('unreadable parts are skipped', () => {
    expect(parseFilters('garbage&namespace=x&=y')).toEqual([{ id: 'namespace', compare: '=', values: ['x'] }]);
  });
  test('match all, any and back-and-forth, with quick filters in every group', () => {
    const f = parseFilters('src_namespace="a"&dst_namespace="b"');
    const quick = quickToFilters({ 'dns_id!': '""' });
    expect(backendFilters(f, 'all', quick)).toBe('src_namespace="a"&dst_namespace="b"&dns_id!=""');
    expect(backendFilters(f, 'any', [])).toBe('src_namespace="a"|dst_namespace="b"');
    expect(backendFilters(f, 'bidirectional', [])).toBe('src_namespace="a"&dst_namespace="b"|dst_namespace="a"&src_namespace="b"');
    expect(backendFilters([], 'any', quick)).toBe('dns_id!=""');
    expect(swapped('SrcK8S_Name')).toBe('DstK8S_Name');
  });
});

describe('format', () => {
  test('network events read as sentences', () => {
    expect(networkEvent({ Action: 'drop', Type: 'NetworkPolicy', Name: 'deny', Namespace: 'ns', Direction: 'Ingress' })).toBe(
      'Dropped by network policy deny in namespace ns, direction Ingress',
    );
    expect(networkEvent({ Action: 'allow', Type: 'AdminNetworkPolicy', Name: 'anp' })).toBe('Allowed by admin network policy anp');
    expect(networkEvent({ Action: 'pass', Type: 'BaselineAdminNetworkPolicy', Name: 'b' })).toBe(
      'Delegated by baseline admin network policy b',
    );
    expect(
      fieldText('NetworkEvents', [
        { Action: 'drop', Type: 'EgressFirewall', Namespace: 'x' },
        { Action: 'allow', Type: 'UDNIsolation' },
      ]),
    ).toBe('Dropped by egress firewall in namespace x; Allowed by UDN isolation');
  });
  test('endpoints and values', () => {
    const r = {
      XlatDstK8S_Type: 'Pod',
      XlatDstK8S_Namespace: 'n',
      XlatDstK8S_Name: 'p',
      XlatDstAddr: '10.0.0.1',
      XlatDstPort: 8080,
      DstAddr: '1.2.3.4',
    };
    expect(endpoint(r, 'XlatDst')).toBe('Pod n/p (10.0.0.1:8080)');
    expect(endpoint(r, 'Dst')).toBe('1.2.3.4');
    expect(fieldText('Proto', 17)).toBe('UDP');
    expect(fieldText('Bytes', 1500)).toBe('1.5 KB');
    expect(fieldText('TimeFlowRttNs', 2_500_000)).toBe('2.50 ms');
    expect(fieldText('FlowDirection', 2)).toBe('Inner');
  });
});

describe('topology model', () => {
  const scope = { id: 'namespace', name: 'Namespace', labels: ['SrcK8S_Namespace', 'DstK8S_Namespace'] };
  test('one node per namespace, one edge per pair, the outside as one node', () => {
    const g = buildGraph(
      [
        {
          metric: { SrcK8S_Namespace: 'a', DstK8S_Namespace: 'b' },
          values: [
            [1, '10'],
            [2, '20'],
          ],
        },
        { metric: { SrcK8S_Namespace: 'b', DstK8S_Namespace: 'a' }, values: [[1, '5']] },
        { metric: { SrcK8S_Namespace: 'a' }, values: [[1, '1']] },
      ],
      scope,
      true,
    );
    expect(g.nodes.map((n) => n.label).sort()).toEqual(['External / unknown', 'a', 'b']);
    expect(g.edges.map((e) => [e.source, e.target, e.value])).toEqual([
      ['K8S_Namespace=a', 'K8S_Namespace=b', 30],
      ['K8S_Namespace=b', 'K8S_Namespace=a', 5],
      ['K8S_Namespace=a', 'external', 1],
    ]);
    expect(nodeFilters(g.nodes[0], 'src_')).toEqual([['src_namespace', '"a"']]);
  });
  test('process scope (local mode): the process and its address, else the address', () => {
    const process = { id: 'process', name: 'Process', labels: ['SrcProcessName', 'SrcAddr', 'DstProcessName', 'DstAddr'] };
    const g = buildGraph(
      [{ metric: { SrcProcessName: 'curl', SrcAddr: '10.0.0.1', DstAddr: '10.0.0.2' }, values: [[1, '3']] }],
      process,
      true,
    );
    expect(g.nodes.map((n) => n.label)).toEqual(['curl @ 10.0.0.1', '10.0.0.2']);
    expect(g.edges.length).toBe(1);
  });
});

describe('resource tabs', () => {
  test('each kind filters on its resource', () => {
    expect(resourceFilters({ kind: 'Namespace', metadata: { name: 'x' } })).toEqual([{ id: 'namespace', compare: '=', values: ['"x"'] }]);
    expect(resourceFilters({ kind: 'Node', metadata: { name: 'n1' } })).toEqual([{ id: 'host_name', compare: '=', values: ['"n1"'] }]);
    expect(resourceFilters({ kind: 'Pod', metadata: { name: 'p', namespace: 'ns' } }).map((f) => f.id)).toEqual(['name', 'namespace']);
    expect(resourceFilters({ kind: 'Deployment', metadata: { name: 'd', namespace: 'ns' } }).map((f) => f.id)).toEqual([
      'owner_name',
      'namespace',
    ]);
    expect(resourceFilters(undefined)).toEqual([]);
  });
});

describe('custom overview panels', () => {
  test('custom_<fn>_<aggregateBy>_<type> ids become panels; others are refused', async () => {
    const { customPanel } = await import('../../src/panels');
    expect(customPanel('custom_avg_Dscp_TimeFlowRttNs')).toMatchObject({
      fn: 'avg',
      aggregateBy: 'Dscp',
      type: 'TimeFlowRttNs',
      unit: 'ms',
      kind: 'top',
    });
    expect(customPanel('custom_rate_K8S_FlowLayer_Bytes')).toMatchObject({ aggregateBy: 'K8S_FlowLayer', unit: 'Bps' });
    expect(customPanel('custom_count_FlowDirection_Flows')).toMatchObject({ kind: 'donut', unit: 'count' });
    expect(customPanel('custom_bogus_Proto_Bytes')).toBeNull();
    expect(customPanel('custom_rate_Proto_Nope')).toBeNull();
    expect(customPanel('top_avg_rtt')).toBeNull();
  });
});
