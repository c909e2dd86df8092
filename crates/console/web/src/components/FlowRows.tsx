// The flows table itself, virtualised: only rows `first..last` are in the DOM, with spacer rows
// standing for the others so the scroll height is that of every row.
import { Table, Tbody, Td, Th, Thead, Tr } from '@patternfly/react-table';
import { FlowRecord } from '../api';
import { Column } from '../columns';
import { ViewState } from '../state';

/** Height of one row in pixels; the virtual window is computed from it. */
export const ROW = 37;

export function FlowRows({
  view,
  columns,
  rows,
  window: [first, last],
  sort,
  focus,
  selected,
  onPick,
}: {
  view: ViewState;
  columns: Column[];
  rows: FlowRecord[];
  window: [number, number];
  sort: { id: string; order: 'asc' | 'desc' };
  focus: number;
  selected: FlowRecord | null;
  onPick: (index: number) => void;
}) {
  return (
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
                sortBy: { index: columns.findIndex((x) => x.id === sort.id), direction: sort.order },
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
              onRowClick={() => onPick(i)}
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
  );
}
