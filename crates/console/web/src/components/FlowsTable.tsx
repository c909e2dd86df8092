// The Traffic flows tab: a virtualised table of records (only the rows in view are in the DOM),
// sorting, a column picker, keyboard navigation, a side panel with the whole record, CSV export.
import { Alert, Drawer, DrawerContent, DrawerContentBody } from '@patternfly/react-core';
import { useEffect, useMemo, useRef, useState } from 'react';
import { FlowRecord, getRecords } from '../api';
import { allColumns, Column, visibleColumns } from '../columns';
import { parseFilters } from '../filters';
import { isConnectionType, tracksConversations } from '../recordTypes';
import { useConfig, useLoad, ViewState } from '../state';
import { ColumnPicker } from './ColumnPicker';
import { ErrorMessage, Loading, NoResults } from './Messages';
import { RecordPanel } from './RecordPanel';
import { FlowsHistogram } from './FlowsHistogram';
import { FlowRows, ROW } from './FlowRows';
import { FlowsToolbar } from './FlowsToolbar';
import { markRendered } from '../perf';

/** Rows rendered beyond each edge of the view, so fast scrolling shows no blank rows. */
const OVERSCAN = 8;

/** The records sorted by the URL's column and order (records keep their order otherwise). */
function sortRows(records: FlowRecord[], sortCol: Column | undefined, order: 'asc' | 'desc'): FlowRecord[] {
  const recs = [...records];
  if (sortCol) {
    recs.sort((a, b) => {
      const x = sortCol.sortValue(a);
      const y = sortCol.sortValue(b);
      const c = typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y));
      return order === 'asc' ? c : -c;
    });
  }
  return recs;
}

export function FlowsTable({ view, tick }: { view: ViewState; tick: number }) {
  const config = useConfig();
  const all = useMemo(() => allColumns(config.columns), [config]);
  const columns = visibleColumns(all, view.params.get('cols'), {
    tracked: tracksConversations(config),
    events: isConnectionType(view.recordType),
  });
  const [retry, setRetry] = useState(0);
  const base = `${view.recordsQuery}&limit=${view.limit}`;
  const { data, error, loading, base: shown } = useLoad(`${base}#${tick}#${retry}`, (s) => getRecords(base, s), base);
  const [picker, setPicker] = useState(false);
  const [selected, setSelected] = useState<FlowRecord | null>(null);
  const [focus, setFocus] = useState(0);
  const [scrollTop, setScrollTop] = useState(0);
  const [height, setHeight] = useState(600);
  const scroller = useRef<HTMLDivElement>(null);

  const sortId = view.params.get('sort') ?? 'TimeFlowEndMs';
  const order = view.params.get('order') === 'asc' ? 'asc' : 'desc';
  const sortCol = all.find((c) => c.id === sortId);
  const rows = useMemo(() => sortRows(data?.records ?? [], sortCol, order), [data, sortCol, order]);

  useEffect(() => {
    const el = scroller.current;
    if (!el) return undefined;
    const ro = new ResizeObserver(() => setHeight(el.clientHeight));
    ro.observe(el);
    return () => ro.disconnect();
  }, [data]);
  useEffect(() => setFocus((f) => Math.min(f, Math.max(rows.length - 1, 0))), [rows.length]);
  useEffect(() => {
    if (data || error) markRendered('table');
  }, [data, error]);

  if (error && !data) return <ErrorMessage error={error} what="flows" retry={() => setRetry(retry + 1)} />;
  if (loading && !data) return <Loading what="flows" />;
  if (!rows.length)
    return (
      <NoResults
        what="flows"
        clear={parseFilters(view.params.get('filters')).length ? () => view.set({ filters: undefined }) : undefined}
      />
    );

  const first = Math.max(0, Math.floor(scrollTop / ROW) - OVERSCAN);
  const last = Math.min(rows.length, Math.ceil((scrollTop + height) / ROW) + OVERSCAN);
  const csvColumns = [...new Set(columns.flatMap((c) => c.fields))].join(',');

  const moveTo = (i: number) => {
    const n = Math.max(0, Math.min(rows.length - 1, i));
    setFocus(n);
    const el = scroller.current;
    if (!el) return;
    const top = n * ROW;
    const headerH = ROW;
    if (top < el.scrollTop) el.scrollTop = top;
    else if (top + ROW + headerH > el.scrollTop + el.clientHeight) el.scrollTop = top + ROW + headerH - el.clientHeight;
  };
  const onKey = (e: React.KeyboardEvent) => {
    const page = Math.max(1, Math.floor(height / ROW) - 1);
    const keys: Record<string, () => void> = {
      ArrowDown: () => moveTo(focus + 1),
      ArrowUp: () => moveTo(focus - 1),
      PageDown: () => moveTo(focus + page),
      PageUp: () => moveTo(focus - page),
      Home: () => moveTo(0),
      End: () => moveTo(rows.length - 1),
      Enter: () => setSelected(rows[focus]),
      ' ': () => setSelected(rows[focus]),
      Escape: () => setSelected(null),
    };
    const act = keys[e.key];
    if (act) {
      e.preventDefault();
      act();
    }
  };

  const table = (
    <>
      <FlowsToolbar
        view={view}
        count={rows.length}
        limitReached={!!data?.limitReached}
        loading={loading}
        shown={shown}
        csvColumns={csvColumns}
        onManageColumns={() => setPicker(true)}
      />
      <FlowsHistogram view={view} tick={tick} />
      {error && <Alert variant="danger" isInline title={`Refresh failed: ${error.message}`} />}
      <div
        ref={scroller}
        tabIndex={0}
        role="region"
        aria-label="Flows; arrow keys move, Enter opens the record"
        data-test="flows-scroller"
        onKeyDown={onKey}
        onScroll={(e) => setScrollTop(e.currentTarget.scrollTop)}
        style={{ height: 'calc(100vh - 29rem)', minHeight: '20rem', overflow: 'auto', outlineOffset: '-2px' }}
      >
        <FlowRows
          view={view}
          columns={columns}
          rows={rows}
          window={[first, last]}
          sort={{ id: sortId, order }}
          focus={focus}
          selected={selected}
          onPick={(i) => {
            setFocus(i);
            setSelected(rows[i]);
          }}
        />
      </div>
      {picker && (
        <ColumnPicker
          all={all}
          visible={columns}
          onClose={() => setPicker(false)}
          onSave={(ids) => {
            view.set({ cols: ids ? ids.join(',') : undefined });
            setPicker(false);
          }}
        />
      )}
    </>
  );

  return (
    <Drawer isExpanded={!!selected} isInline>
      <DrawerContent
        panelContent={
          selected ? (
            <RecordPanel
              record={selected}
              onClose={() => setSelected(null)}
              onFilter={(id, value) => view.set({ filters: [view.params.get('filters'), `${id}=${value}`].filter(Boolean).join('&') })}
            />
          ) : undefined
        }
      >
        <DrawerContentBody>{table}</DrawerContentBody>
      </DrawerContent>
    </Drawer>
  );
}
