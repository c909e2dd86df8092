// The Network Health page: what the operator's health rules report, by scope (cluster, nodes,
// namespaces, workloads), each entity with its problems worst first.
import {
  Button,
  Card,
  CardBody,
  CardTitle,
  EmptyState,
  EmptyStateBody,
  Flex,
  FlexItem,
  Gallery,
  Label,
  PageSection,
  Tab,
  Tabs,
  TabTitleText,
  Title,
} from '@patternfly/react-core';
import { CheckCircleIcon, SyncAltIcon } from '@patternfly/react-icons';
import { useState } from 'react';
import { ErrorMessage, Loading } from '../components/Messages';
import { useLoad } from '../state';
import { loadHealth } from './load';
import { byEntity, Scope, Severity, Violation } from './model';

const SCOPES: [Scope, string][] = [
  ['Global', 'Cluster'],
  ['Node', 'Nodes'],
  ['Namespace', 'Namespaces'],
  ['Workload', 'Workloads'],
];

const COLORS: Record<Severity, 'red' | 'orange' | 'blue'> = { critical: 'red', warning: 'orange', info: 'blue' };

/** "DNSNxDomain: 90.2 % (warning from 80 %), alert pending" */
function describe(v: Violation): string {
  const threshold = v.threshold !== undefined ? ` (${v.severity} from ${v.threshold} %)` : ` (${v.severity})`;
  const alert = v.kind === 'alert' ? `, alert ${v.state}` : '';
  return `${v.template}: ${v.value.toFixed(1)} %${threshold}${alert}`;
}

function EntityCard({ entity, violations }: { entity: string; violations: Violation[] }) {
  const worst = violations[0].severity;
  return (
    <Card isCompact data-test="health-entity" data-entity={entity} data-severity={worst}>
      <CardTitle>
        <Flex justifyContent={{ default: 'justifyContentSpaceBetween' }}>
          <FlexItem>{entity || 'Cluster'}</FlexItem>
          <FlexItem>
            <Label color={COLORS[worst]}>{worst}</Label>
          </FlexItem>
        </Flex>
      </CardTitle>
      <CardBody>
        {violations.map((v) => (
          <div key={`${v.rule}-${v.severity}-${v.kind}`} data-test="health-violation" data-template={v.template} data-value={v.value}>
            {describe(v)}
          </div>
        ))}
      </CardBody>
    </Card>
  );
}

function ScopeView({ entities }: { entities: [string, Violation[]][] }) {
  if (!entities.length) {
    return (
      <EmptyState icon={CheckCircleIcon} titleText="No issue" headingLevel="h3" data-test="health-empty">
        <EmptyStateBody>Every health rule of this scope is within its thresholds.</EmptyStateBody>
      </EmptyState>
    );
  }
  return (
    <Gallery hasGutter minWidths={{ default: '22rem' }}>
      {entities.map(([entity, vs]) => (
        <EntityCard key={entity} entity={entity} violations={vs} />
      ))}
    </Gallery>
  );
}

export function NetworkHealth() {
  const [tick, setTick] = useState(0);
  const [scope, setScope] = useState<Scope>('Global');
  const { data, error, loading } = useLoad(`health#${tick}`, loadHealth);
  const refresh = () => setTick(tick + 1);
  let body;
  if (error && !data) body = <ErrorMessage error={error} what="the health rules" retry={refresh} />;
  else if (!data) body = <Loading what="health" />;
  else if (!data.rules)
    body = (
      <EmptyState titleText="No health rule" headingLevel="h3" data-test="health-no-rules">
        <EmptyStateBody>Prometheus has none of the operator's health rules (FlowCollector processor.metrics.healthRules).</EmptyStateBody>
      </EmptyState>
    );
  else {
    const entities = (s: Scope) => byEntity(data.violations.filter((v) => v.scope === s));
    const byScope = new Map(SCOPES.map(([s]) => [s, entities(s)]));
    body = (
      <>
        <Tabs activeKey={scope} onSelect={(_e, k) => setScope(k as Scope)} aria-label="Scopes" data-test="health-tabs">
          {SCOPES.map(([s, label]) => (
            <Tab
              key={s}
              eventKey={s}
              title={<TabTitleText>{`${label} (${byScope.get(s)?.length ?? 0})`}</TabTitleText>}
              data-test={`health-tab-${s}`}
            />
          ))}
        </Tabs>
        <div style={{ marginTop: '1rem' }} data-test="health-content" data-loading={loading ? 'true' : 'false'}>
          <ScopeView entities={byScope.get(scope) ?? []} />
        </div>
      </>
    );
  }
  return (
    <PageSection>
      <Flex justifyContent={{ default: 'justifyContentSpaceBetween' }} style={{ marginBottom: '1rem' }}>
        <FlexItem>
          <Title headingLevel="h1" data-test="page-title">
            Network Health
          </Title>
        </FlexItem>
        <FlexItem>
          <Button variant="plain" aria-label="Refresh now" onClick={refresh} icon={<SyncAltIcon />} data-test="health-refresh" />
        </FlexItem>
      </Flex>
      {body}
    </PageSection>
  );
}
