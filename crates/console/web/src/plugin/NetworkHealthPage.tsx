// The OpenShift console's "Network Health" page (console.page/route /network-health), reading the
// health rules through the plugin's backend like the Network Traffic page.
import { setApiBase } from '../api';
import { NetworkHealth } from '../health/NetworkHealth';
import { PLUGIN_API_BASE } from './NetflowParent';

export default function NetworkHealthPage() {
  setApiBase(PLUGIN_API_BASE);
  return <NetworkHealth />;
}
