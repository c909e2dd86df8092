// The line above the flows table: how many flows (and whether the limit cut them), the limit
// picker, the column manager button and the CSV export of exactly what the table queries.
import { Button, Flex, FlexItem, FormSelect, FormSelectOption, Spinner } from '@patternfly/react-core';
import { ColumnsIcon, ExportIcon } from '@patternfly/react-icons';
import { apiUrl } from '../api';
import { defaultRecordType, isConnectionType, recordTypeOptions, tracksConversations } from '../recordTypes';
import { useConfig, ViewState } from '../state';

export function FlowsToolbar({
  view,
  count,
  limitReached,
  loading,
  shown,
  csvColumns,
  onManageColumns,
}: {
  view: ViewState;
  count: number;
  limitReached: boolean;
  loading: boolean;
  shown: string | undefined;
  csvColumns: string;
  onManageColumns: () => void;
}) {
  const config = useConfig();
  const csv = `/api/loki/export?${view.recordsQuery}&limit=${view.limit}&format=csv&columns=${encodeURIComponent(csvColumns)}`;
  return (
    <Flex
      justifyContent={{ default: 'justifyContentSpaceBetween' }}
      alignItems={{ default: 'alignItemsCenter' }}
      style={{ marginBottom: '0.5rem' }}
    >
      <FlexItem data-test="flows-count" data-loading={loading ? 'true' : 'false'} data-query={shown}>
        {count} {isConnectionType(view.recordType) ? 'conversation records' : 'flows'}
        {limitReached ? ` (the limit of ${view.limit} was reached: narrow the filters or raise the limit)` : ''}
        {loading && <Spinner size="md" aria-label="Updating" style={{ marginLeft: '0.5rem' }} />}
      </FlexItem>
      <Flex spaceItems={{ default: 'spaceItemsSm' }}>
        {tracksConversations(config) && (
          <FlexItem>
            <FormSelect
              value={view.recordType}
              onChange={(_e, v) => view.set({ recordType: v === defaultRecordType(config) ? undefined : v })}
              aria-label="Log type"
              data-test="record-type"
            >
              {recordTypeOptions(config).map(([v, label]) => (
                <FormSelectOption key={v} value={v} label={label} />
              ))}
            </FormSelect>
          </FlexItem>
        )}
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
          <Button variant="secondary" icon={<ColumnsIcon />} onClick={onManageColumns} data-test="columns-open">
            Manage columns
          </Button>
        </FlexItem>
        <FlexItem>
          <Button component="a" variant="secondary" icon={<ExportIcon />} href={apiUrl(csv)} download="flows.csv" data-test="export-csv">
            Export CSV
          </Button>
        </FlexItem>
      </Flex>
    </Flex>
  );
}
