// The side panel: every field of one flow record, network events as sentences.
import {
  Button,
  DescriptionList,
  DescriptionListDescription,
  DescriptionListGroup,
  DescriptionListTerm,
  DrawerActions,
  DrawerCloseButton,
  DrawerHead,
  DrawerPanelBody,
  DrawerPanelContent,
  Title,
} from '@patternfly/react-core';
import type { FlowRecord } from '../api';
import { endpoint, fieldText, hasTranslation, networkEvents } from '../format';
import { columnLabel } from '../labels';

export function RecordPanel({
  record,
  onClose,
  onFilter,
}: {
  record: FlowRecord;
  onClose: () => void;
  onFilter: (id: string, value: string) => void;
}) {
  const fields = Object.keys(record)
    .filter((k) => !k.startsWith('_ts'))
    .sort();
  const events = networkEvents(record.NetworkEvents);
  return (
    <DrawerPanelContent widths={{ default: 'width_33' }} isResizable minSize="22rem" data-test="record-panel">
      <DrawerHead>
        <Title headingLevel="h2" size="lg">
          {typeof record._RecordType === 'string' && record._RecordType !== 'flowLog' ? 'Conversation record' : 'Flow record'}
        </Title>
        <DrawerActions>
          <DrawerCloseButton onClick={onClose} aria-label="Close the record panel" />
        </DrawerActions>
      </DrawerHead>
      <DrawerPanelBody>
        <DescriptionList isCompact isHorizontal horizontalTermWidthModifier={{ default: '14ch' }}>
          <DescriptionListGroup>
            <DescriptionListTerm>Source</DescriptionListTerm>
            <DescriptionListDescription>{endpoint(record, 'Src')}</DescriptionListDescription>
          </DescriptionListGroup>
          <DescriptionListGroup>
            <DescriptionListTerm>Destination</DescriptionListTerm>
            <DescriptionListDescription>{endpoint(record, 'Dst')}</DescriptionListDescription>
          </DescriptionListGroup>
          {hasTranslation(record) && (
            <DescriptionListGroup>
              <DescriptionListTerm>Translated</DescriptionListTerm>
              <DescriptionListDescription data-test="panel-xlat">
                {endpoint(record, 'XlatSrc')} → {endpoint(record, 'XlatDst')}
                {record.ZoneId !== undefined ? ` (conntrack zone ${record.ZoneId})` : ''}
              </DescriptionListDescription>
            </DescriptionListGroup>
          )}
          {events.length > 0 && (
            <DescriptionListGroup>
              <DescriptionListTerm>Network events</DescriptionListTerm>
              <DescriptionListDescription>
                {events.map((e) => (
                  <div key={e}>{e}</div>
                ))}
              </DescriptionListDescription>
            </DescriptionListGroup>
          )}
          {typeof record._HashId === 'string' && record._HashId !== '' && (
            <Button variant="link" isInline onClick={() => onFilter('id', `"${record._HashId}"`)} data-test="show-conversation">
              Show this conversation
            </Button>
          )}
          {record.SrcK8S_Namespace !== undefined && (
            <Button variant="link" isInline onClick={() => onFilter('src_namespace', `"${record.SrcK8S_Namespace}"`)}>
              Filter on the source namespace
            </Button>
          )}
          <Title headingLevel="h3" size="md">
            All fields
          </Title>
          {fields.map((k) => (
            <DescriptionListGroup key={k}>
              <DescriptionListTerm>
                {columnLabel(k)} {columnLabel(k) !== k && <small>({k})</small>}
              </DescriptionListTerm>
              <DescriptionListDescription data-field={k}>{fieldText(k, record[k])}</DescriptionListDescription>
            </DescriptionListGroup>
          ))}
        </DescriptionList>
      </DrawerPanelBody>
    </DrawerPanelContent>
  );
}
