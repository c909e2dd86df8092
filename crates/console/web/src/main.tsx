// The standalone page (served by netobserv-console at `/`).
import '@patternfly/react-core/dist/styles/base.css';
import '@patternfly/react-topology/dist/esm/css/topology-components.css';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { NetflowTraffic } from './components/NetflowTraffic';
import { followSystemTheme } from './theme';

followSystemTheme();
const root = document.getElementById('root');
if (root) {
  createRoot(root).render(
    <StrictMode>
      <div className="netobserv-standalone" style={{ minHeight: '100vh', background: 'var(--pf-t--global--background--color--primary--default)', padding: '0.5rem 0.75rem' }}>
        <NetflowTraffic />
      </div>
    </StrictMode>,
  );
}
