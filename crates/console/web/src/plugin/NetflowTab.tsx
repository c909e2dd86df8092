// The "Network Traffic" tab of a Pod, Namespace, Service, Node or Deployment page
// (console.tab/horizontalNav): the same page, always filtered on that resource.
import { useMemo } from 'react';
import { setApiBase } from '../api';
import { NetflowTraffic } from '../components/NetflowTraffic';
import { K8sObject, resourceFilters } from './resourceFilters';
import { PLUGIN_API_BASE } from './NetflowParent';

export default function NetflowTab({ obj }: { obj?: K8sObject }) {
  setApiBase(PLUGIN_API_BASE);
  const forced = useMemo(() => resourceFilters(obj), [obj]);
  return <NetflowTraffic forcedFilters={forced} />;
}
