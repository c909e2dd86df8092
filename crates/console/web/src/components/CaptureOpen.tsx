// Opening a capture file (the CLI's or local mode's SQLite store) in the page: the file is
// uploaded to the backend, which answers an id that every query then carries (`capture=<id>`).
import { Alert, Button, Label } from '@patternfly/react-core';
import { FolderOpenIcon } from '@patternfly/react-icons';
import { useRef, useState } from 'react';
import { uploadCapture } from '../api';
import type { ViewState } from '../state';

export function CaptureOpen({ view }: { view: ViewState }) {
  const input = useRef<HTMLInputElement>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const capture = view.params.get('capture');
  const open = async (file: File) => {
    setBusy(true);
    setError(null);
    try {
      const c = await uploadCapture(file);
      // A capture holds its own time span: show all of it.
      const span =
        c.startMs !== undefined && c.endMs !== undefined
          ? { startTime: String(Math.floor(c.startMs / 1000)), endTime: String(Math.ceil(c.endMs / 1000) + 1) }
          : { startTime: undefined, endTime: undefined };
      view.set({ capture: c.id, captureName: file.name, timeRange: undefined, ...span });
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <input
        ref={input}
        type="file"
        accept=".db,.sqlite,.sqlite3,application/vnd.sqlite3,application/octet-stream"
        style={{ display: 'none' }}
        data-test="capture-input"
        onChange={(e) => {
          const f = e.target.files?.[0];
          if (f) void open(f);
          e.target.value = '';
        }}
      />
      {capture ? (
        <Label
          color="purple"
          onClose={() => view.set({ capture: undefined, captureName: undefined, startTime: undefined, endTime: undefined })}
          data-test="capture-label"
        >
          Capture: {view.params.get('captureName') ?? capture}
        </Label>
      ) : (
        <Button
          variant="secondary"
          icon={<FolderOpenIcon />}
          isLoading={busy}
          onClick={() => input.current?.click()}
          data-test="capture-open"
        >
          Open capture file
        </Button>
      )}
      {error && <Alert variant="danger" isInline isPlain title={error} data-test="capture-error" />}
    </>
  );
}
