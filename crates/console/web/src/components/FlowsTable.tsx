// The Traffic flows tab: a virtualised table of records (only the rows in view are in the DOM),
// sorting, a column picker, keyboard navigation, a side panel with the whole record, CSV export.
import {
  Alert,
  Button,
  Drawer,
  DrawerContent,
  DrawerContentBody,
  Flex,
  FlexItem,
  FormSelect,
  FormSelectOption,
  Spinner,
} from '@patternfly/react-core';
import { ColumnsIcon, ExportIcon } from '@patternfly/react-icons';
import { Table, Tbody, Td, Th, Thead, Tr } from '@patternfly/react-table';
import { useEffect, useMemo, useRef, useState } from 'react';
import { apiUrl, FlowRecord, getRecords } from '../api';
import { allColumns, visibleColumns } from '../columns';
import { parseFilters } from '../filters';
import { useConfig, useLoad, ViewState } from '../state';
import { ColumnPicker } from './ColumnPicker';
import { ErrorMessage, Loading, NoResults } from './Messages';
import { RecordPanel } from './RecordPanel';
import { FlowsHistogram } from './FlowsHistogram';
import { markRendered } from '../perf';

const ROW = 37;
const OVERSCAN = 8;

export function FlowsTable({ view, tick }: { view: ViewState; tick: number }) {
  const config = useConfig();
  const all = useMemo(() => allColumns(config.columns), [config]);
  const columns = visibleColumns(all, view.params.get('cols'));
  const [retry, setRetry] = useState(0);
  const base = `${view.query}&limit=${view.limit}`;
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
  const rows = useMemo(() => {
    const recs = [...(data?.records ?? [])];
    if (sortCol) {
      recs.sort((a, b) => {
        const x = sortCol.sortValue(a);
        const y = sortCol.sortValue(b);
        const c = typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y));
        return order === 'asc' ? c : -c;
      });
    }
    return recs;
  }, [data, sortCol, order]);

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
      <Flex
        justifyContent={{ default: 'justifyContentSpaceBetween' }}
        alignItems={{ default: 'alignItemsCenter' }}
        style={{ marginBottom: '0.5rem' }}
      >
        <FlexItem data-test="flows-count" data-loading={loading ? 'true' : 'false'} data-query={shown}>
          {rows.length} flows{data?.limitReached ? ` (the limit of ${view.limit} was reached: narrow the filters or raise the limit)` : ''}
          {loading && <Spinner size="md" aria-label="Updating" style={{ marginLeft: '0.5rem' }} />}
        </FlexItem>
        <Flex spaceItems={{ default: 'spaceItemsSm' }}>
          <FlexItem>
            <FormSelect
              value={String(view.limit)}
              onChange={(_e, v) => view.set({ limit: v === '1000' ? undefined : v })}
              aria-label="Limit"
              data-test="limit"
            >
              {[100, 500, 1000, 5000].map((l) => (
                <FormSelectOption key={l} value={String(l)} label={`Limit ${l}`} />
              ))}
            </FormSelect>
          </FlexItem>
          <FlexItem>
            <Button variant="secondary" icon={<ColumnsIcon />} onClick={() => setPicker(true)} data-test="columns-open">
              Manage columns
            </Button>
          </FlexItem>
          <FlexItem>
            <Button
              component="a"
              variant="secondary"
              icon={<ExportIcon />}
              href={apiUrl(`/api/loki/export?${view.query}&limit=${view.limit}&format=csv&columns=${encodeURIComponent(csvColumns)}`)}
              download="flows.csv"
              data-test="export-csv"
            >
              Export CSV
            </Button>
          </FlexItem>
        </Flex>
      </Flex>
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
        <Table
          variant="compact"
          isStickyHeader
          aria-label="Traffic flows"
          aria-rowcount={rows.length + 1}
          data-test="flows-table"
          style={{ tableLayout: 'fixed', width: columns.reduce((a, c) => a + c.width, 0) }}
        >
          <Thead>
            <Tr>
              {columns.map((c) => (
                <Th
                  key={c.id}
                  modifier="truncate"
                  style={{ width: c.width, minWidth: c.width }}
                  sort={{
                    sortBy: { index: columns.findIndex((x) => x.id === sortId), direction: order },
                    onSort: (_e, _i, dir) => view.set({ sort: c.id, order: dir }, false),
                    columnIndex: columns.indexOf(c),
                  }}
                  data-col={c.id}
                >
                  {c.title}
                </Th>
              ))}
            </Tr>
          </Thead>
          <Tbody>
            {first > 0 && <tr style={{ height: first * ROW }} aria-hidden />}
            {rows.slice(first, last).map((r, k) => {
              const i = first + k;
              return (
                <Tr
                  key={i}
                  isClickable
                  isRowSelected={selected === r}
                  onRowClick={() => {
                    setFocus(i);
                    setSelected(r);
                  }}
                  style={{ height: ROW, outline: i === focus ? '2px solid var(--pf-t--global--border--color--clicked, #06c)' : undefined }}
                  data-test="flow-row"
                  data-index={i}
                  aria-rowindex={i + 2}
                >
                  {columns.map((c) => {
                    const text = c.text(r);
                    return (
                      <Td key={c.id} modifier="truncate" dataLabel={c.title} data-col={c.id} title={text}>
                        {text}
                      </Td>
                    );
                  })}
                </Tr>
              );
            })}
            {last < rows.length && <tr style={{ height: (rows.length - last) * ROW }} aria-hidden />}
          </Tbody>
        </Table>
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
