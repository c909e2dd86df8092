// Choosing the table's columns, by group.
import { Button, Checkbox, Grid, GridItem, Modal, ModalBody, ModalFooter, ModalHeader, Title } from '@patternfly/react-core';
import { useState } from 'react';
import type { Column } from '../columns';

export function ColumnPicker({
  all,
  visible,
  onSave,
  onClose,
}: {
  all: Column[];
  visible: Column[];
  onSave: (ids: string[] | null) => void;
  onClose: () => void;
}) {
  const [chosen, setChosen] = useState<string[]>(visible.map((c) => c.id));
  const groups = [...new Set(all.map((c) => c.group))];
  return (
    <Modal isOpen onClose={onClose} variant="large" aria-labelledby="columns-title" data-test="column-picker">
      <ModalHeader title="Manage columns" labelId="columns-title" description="Pick the columns the table shows." />
      <ModalBody>
        <Grid hasGutter md={4}>
          {groups.map((g) => (
            <GridItem key={g}>
              <Title headingLevel="h4">{g}</Title>
              {all
                .filter((c) => c.group === g)
                .map((c) => (
                  <Checkbox
                    key={c.id}
                    id={`col-${c.id}`}
                    label={c.title}
                    isChecked={chosen.includes(c.id)}
                    onChange={(_e, on) => setChosen(on ? [...chosen, c.id] : chosen.filter((x) => x !== c.id))}
                  />
                ))}
            </GridItem>
          ))}
        </Grid>
      </ModalBody>
      <ModalFooter>
        <Button variant="primary" onClick={() => onSave(chosen)} isDisabled={chosen.length === 0} data-test="columns-save">
          Save
        </Button>
        <Button variant="secondary" onClick={() => onSave(null)}>
          Restore defaults
        </Button>
        <Button variant="link" onClick={onClose}>
          Cancel
        </Button>
      </ModalFooter>
    </Modal>
  );
}
