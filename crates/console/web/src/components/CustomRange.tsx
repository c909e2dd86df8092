// Choosing an absolute time range (local time), kept in the URL as startTime / endTime seconds.
import { Alert, Button, Form, FormGroup, Modal, ModalBody, ModalFooter, ModalHeader, TextInput } from '@patternfly/react-core';
import { useState } from 'react';

/** Seconds → the `datetime-local` input's text in local time. */
function local(sec: number): string {
  const d = new Date(sec * 1000);
  const p = (x: number) => String(x).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

export function CustomRange({
  start,
  end,
  onApply,
  onClose,
}: {
  start: number;
  end: number;
  onApply: (s: number, e: number) => void;
  onClose: () => void;
}) {
  const [from, setFrom] = useState(local(start));
  const [to, setTo] = useState(local(end));
  const s = Date.parse(from) / 1000;
  const e = Date.parse(to) / 1000;
  const problem =
    !Number.isFinite(s) || !Number.isFinite(e) ? 'Both dates are needed.' : s >= e ? 'The start must be before the end.' : null;
  return (
    <Modal isOpen onClose={onClose} variant="small" aria-labelledby="range-title" data-test="custom-range">
      <ModalHeader title="Custom time range" labelId="range-title" />
      <ModalBody>
        <Form>
          <FormGroup label="From" fieldId="range-from">
            <TextInput
              id="range-from"
              type="datetime-local"
              step={1}
              value={from}
              onChange={(_e, v) => setFrom(v)}
              data-test="range-from"
            />
          </FormGroup>
          <FormGroup label="To" fieldId="range-to">
            <TextInput id="range-to" type="datetime-local" step={1} value={to} onChange={(_e, v) => setTo(v)} data-test="range-to" />
          </FormGroup>
          {problem && <Alert variant="warning" isInline isPlain title={problem} />}
        </Form>
      </ModalBody>
      <ModalFooter>
        <Button variant="primary" isDisabled={!!problem} onClick={() => onApply(Math.floor(s), Math.ceil(e))} data-test="range-apply">
          Apply
        </Button>
        <Button variant="link" onClick={onClose}>
          Cancel
        </Button>
      </ModalFooter>
    </Modal>
  );
}
