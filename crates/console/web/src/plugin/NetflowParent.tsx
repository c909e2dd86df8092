// The OpenShift console's "Network Traffic" page (console.page/route /netflow-traffic). The
// console proxies the backend at /api/proxy/plugin/netobserv-plugin/backend (the ConsolePlugin
// the operator renders, proxy alias `backend`) and provides PatternFly's base styles.
import '@patternfly/react-topology/dist/esm/css/topology-components.css';
import { setApiBase } from '../api';
import { NetflowTraffic } from '../components/NetflowTraffic';

export const PLUGIN_API_BASE = '/api/proxy/plugin/netobserv-plugin/backend';

export default function NetflowParent() {
  setApiBase(PLUGIN_API_BASE);
  return <NetflowTraffic />;
}
