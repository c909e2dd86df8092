// A resource tab's filters: the traffic of that one resource (either end).
import type { Filter } from '../filters';

/** What the console passes to a resource tab. */
export interface K8sObject {
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
