// The standalone page (served by netobserv-console at `/`).
import '@patternfly/react-core/dist/styles/base.css';
import '@patternfly/react-topology/dist/esm/css/topology-components.css';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { NetflowTraffic } from './components/NetflowTraffic';
import { NetworkHealth } from './health/NetworkHealth';
import { resourceFilters } from './plugin/resourceFilters';
import { followSystemTheme } from './theme';

/** `/resource/<Kind>/<namespace>/<name>` (or `/resource/<Kind>/<name>` for Namespace and Node):
 * the page filtered on that one resource, like the OpenShift console's resource tabs. */
function resourceFromPath(path: string) {
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  if (parts[0] !== 'resource' || parts.length < 3) return null;
  const [, kind, a, b] = parts;
  const obj = b ? { kind, metadata: { namespace: a, name: b } } : { kind, metadata: { name: a } };
  return { filters: resourceFilters(obj), title: `Network Traffic: ${kind} ${b ? `${a}/${b}` : a}` };
}

const resource = resourceFromPath(window.location.pathname);

followSystemTheme();
const root = document.getElementById('root');
if (root) {
  createRoot(root).render(
    <StrictMode>
      <div
        className="netobserv-standalone"
        style={{ minHeight: '100vh', background: 'var(--pf-t--global--background--color--primary--default)', padding: '0.5rem 0.75rem' }}
      >
        {window.location.pathname.replace(/\/$/, '') === '/network-health' ? (
          <NetworkHealth />
        ) : (
          <NetflowTraffic forcedFilters={resource?.filters} title={resource?.title} />
        )}
      </div>
    </StrictMode>,
  );
}
