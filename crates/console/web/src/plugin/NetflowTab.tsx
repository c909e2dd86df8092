// The "Network Traffic" tab of a Pod, Namespace, Service, Node or Deployment page
// (console.tab/horizontalNav): the same page, always filtered on that resource.
import { useMemo } from 'react';
import { setApiBase } from '../api';
import { NetflowTraffic } from '../components/NetflowTraffic';
import type { Filter } from '../filters';
import { PLUGIN_API_BASE } from './NetflowParent';

/** What the console passes to a resource tab. */
interface K8sObject {
  kind?: string;
  metadata?: { name?: string; namespace?: string };
}

/** The filters selecting one resource's traffic (either end). */
export function resourceFilters(obj: K8sObject | undefined): Filter[] {
  const name = obj?.metadata?.name;
  if (!obj || !name) return [];
  const exact = (v: string) => [`"${v}"`];
  const ns = obj.metadata?.namespace;
  switch (obj.kind) {
    case 'Namespace':
      return [{ id: 'namespace', compare: '=', values: exact(name) }];
    case 'Node':
      return [{ id: 'host_name', compare: '=', values: exact(name) }];
    case 'Pod':
    case 'Service':
      return [
        { id: 'name', compare: '=', values: exact(name) },
        ...(ns ? [{ id: 'namespace', compare: '=' as const, values: exact(ns) }] : []),
      ];
    default:
      return [
        { id: 'owner_name', compare: '=', values: exact(name) },
        ...(ns ? [{ id: 'namespace', compare: '=' as const, values: exact(ns) }] : []),
      ];
  }
}

export default function NetflowTab({ obj }: { obj?: K8sObject }) {
  setApiBase(PLUGIN_API_BASE);
  const forced = useMemo(() => resourceFilters(obj), [obj]);
  return <NetflowTraffic forcedFilters={forced} />;
}
