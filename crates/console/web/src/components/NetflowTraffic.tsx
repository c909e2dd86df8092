// The Network Traffic page: toolbar (filters, time range, refresh, capture file) and the
// Overview, Traffic flows and Topology tabs. The selected tab and every setting are in the URL.
import { Button, Flex, FlexItem, FormSelect, FormSelectOption, PageSection, Tab, Tabs, TabTitleText, Title } from '@patternfly/react-core';
import { SyncAltIcon } from '@patternfly/react-icons';
import { lazy, Suspense, useState } from 'react';
import { FrontendConfig, getJson } from '../api';
import type { Filter } from '../filters';
import { ConfigContext, ForcedFiltersContext, REFRESH, TIME_RANGES, useLoad, useTick, useViewState } from '../state';
import { CaptureOpen } from './CaptureOpen';
import { CustomRange } from './CustomRange';
import { QueryOptions } from './QueryOptions';
import { FilterBar } from './FilterBar';
import { ErrorMessage, Loading } from './Messages';

// Each tab's code loads when the tab is first shown (the topology's layout engine is large).
const Overview = lazy(() => import('./Overview').then((m) => ({ default: m.Overview })));
const FlowsTable = lazy(() => import('./FlowsTable').then((m) => ({ default: m.FlowsTable })));
const Topology = lazy(() => import('./Topology').then((m) => ({ default: m.Topology })));

const TABS = [
  ['overview', 'Overview'],
  ['table', 'Traffic flows'],
  ['topology', 'Topology'],
] as const;

function TimeRange({ view }: { view: ReturnType<typeof useViewState> }) {
  const custom = view.startTime !== undefined;
  const known = TIME_RANGES.some(([s]) => s === view.timeRange);
  const [editing, setEditing] = useState(false);
  const now = Math.floor(Date.now() / 1000);
  return (
    <>
      {editing && (
        <CustomRange
          start={view.startTime ?? now - view.timeRange}
          end={view.endTime ?? now}
          onClose={() => setEditing(false)}
          onApply={(s, e) => {
            view.set({ startTime: String(s), endTime: String(e), timeRange: undefined });
            setEditing(false);
          }}
        />
      )}
      <FormSelect
        value={custom ? 'custom' : String(view.timeRange)}
        onChange={(_e, v) =>
          v === 'edit' ? setEditing(true) : view.set({ timeRange: v === '300' ? undefined : v, startTime: undefined, endTime: undefined })
        }
        aria-label="Time range"
        data-test="time-range"
      >
        {TIME_RANGES.map(([s, label]) => (
          <FormSelectOption key={s} value={String(s)} label={label} />
        ))}
        {!known && !custom && <FormSelectOption value={String(view.timeRange)} label={`Last ${view.timeRange} s`} />}
        {custom && (
          <FormSelectOption
            value="custom"
            label={`${new Date(view.startTime! * 1000).toLocaleString()} – ${view.endTime ? new Date(view.endTime * 1000).toLocaleString() : 'now'}`}
          />
        )}
        <FormSelectOption value="edit" label="Custom range…" />
      </FormSelect>
    </>
  );
}

function Page({ title }: { title: string }) {
  const view = useViewState();
  const [tick, bump] = useTick(view.refresh);
  const tab = view.params.get('tab') ?? 'overview';
  return (
    <>
      <PageSection>
        <Flex justifyContent={{ default: 'justifyContentSpaceBetween' }} alignItems={{ default: 'alignItemsCenter' }}>
          <FlexItem>
            <Title headingLevel="h1" data-test="page-title">
              {title}
            </Title>
          </FlexItem>
          <Flex spaceItems={{ default: 'spaceItemsSm' }} alignItems={{ default: 'alignItemsCenter' }}>
            <FlexItem>
              <CaptureOpen view={view} />
            </FlexItem>
            <FlexItem>
              <TimeRange view={view} />
            </FlexItem>
            <FlexItem>
              <FormSelect
                value={String(view.refresh)}
                onChange={(_e, v) => view.set({ refresh: v === '0' ? undefined : v })}
                aria-label="Refresh interval"
                data-test="refresh"
              >
                {REFRESH.map(([s, label]) => (
                  <FormSelectOption key={s} value={String(s)} label={label} />
                ))}
              </FormSelect>
            </FlexItem>
            <FlexItem>
              <QueryOptions view={view} />
            </FlexItem>
            <FlexItem>
              <Button variant="plain" aria-label="Refresh now" onClick={bump} icon={<SyncAltIcon />} data-test="refresh-now" />
            </FlexItem>
          </Flex>
        </Flex>
        <div style={{ marginTop: '1rem' }}>
          <FilterBar view={view} />
        </div>
      </PageSection>
      <PageSection padding={{ default: 'noPadding' }}>
        <Tabs
          activeKey={tab}
          onSelect={(_e, k) => view.set({ tab: String(k) === 'overview' ? undefined : String(k) })}
          aria-label="Views"
          data-test="tabs"
          mountOnEnter
          unmountOnExit
        >
          {TABS.map(([k, label]) => (
            <Tab key={k} eventKey={k} title={<TabTitleText>{label}</TabTitleText>} data-test={`tab-${k}`} />
          ))}
        </Tabs>
      </PageSection>
      <PageSection isFilled data-test={`content-${tab}`}>
        <Suspense fallback={<Loading what={tab} />}>
          {tab === 'table' ? (
            <FlowsTable view={view} tick={tick} />
          ) : tab === 'topology' ? (
            <Topology view={view} tick={tick} />
          ) : (
            <Overview view={view} tick={tick} />
          )}
        </Suspense>
      </PageSection>
    </>
  );
}

const NO_FILTERS: Filter[] = [];

/** Loads the frontend configuration, then shows the page (always filtered by `forcedFilters`). */
export function NetflowTraffic({ forcedFilters = NO_FILTERS, title = 'Network Traffic' }: { forcedFilters?: Filter[]; title?: string }) {
  const [retry, setRetry] = useState(0);
  const { data, error } = useLoad(`config#${retry}`, (s) => getJson<FrontendConfig>('/api/frontend-config', s));
  if (error) {
    return (
      <PageSection>
        <ErrorMessage error={error} what="the console configuration" retry={() => setRetry(retry + 1)} />
      </PageSection>
    );
  }
  if (!data) return <Loading what="configuration" />;
  return (
    <ConfigContext.Provider value={data}>
      <ForcedFiltersContext.Provider value={forcedFilters}>
        <Page title={title} />
      </ForcedFiltersContext.Provider>
    </ConfigContext.Provider>
  );
}
