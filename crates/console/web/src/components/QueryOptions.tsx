// Query options (reference §B.2): which flows by packet loss, and which source answers. Both go
// in the URL and in every query as the backend names them.
import { FormSelect, FormSelectOption } from '@patternfly/react-core';
import { useConfig, ViewState } from '../state';

const LOSS: [string, string][] = [
  ['all', 'All flows'],
  ['hasDrops', 'Flows with drops'],
  ['dropped', 'Fully dropped flows'],
  ['sent', 'Flows without drops'],
];

export function QueryOptions({ view }: { view: ViewState }) {
  const config = useConfig();
  const sources = config.dataSources ?? [];
  return (
    <>
      <FormSelect
        value={view.params.get('packetLoss') ?? 'all'}
        onChange={(_e, v) => view.set({ packetLoss: v === 'all' ? undefined : v })}
        aria-label="Packet loss"
        data-test="packet-loss"
        style={{ display: 'inline-block', width: 'auto', marginRight: '0.5rem' }}
      >
        {LOSS.map(([v, label]) => (
          <FormSelectOption key={v} value={v} label={label} />
        ))}
      </FormSelect>
      {sources.length > 1 && (
        <FormSelect
          value={view.params.get('dataSource') ?? 'auto'}
          onChange={(_e, v) => view.set({ dataSource: v === 'auto' ? undefined : v })}
          aria-label="Data source"
          data-test="data-source"
          style={{ display: 'inline-block', width: 'auto' }}
        >
          <FormSelectOption value="auto" label="Source: automatic" />
          {sources.map((s) => (
            <FormSelectOption key={s} value={s} label={`Source: ${s}`} />
          ))}
        </FormSelect>
      )}
    </>
  );
}
