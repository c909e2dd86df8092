// A text input with suggestions below it (autocompletion), usable from the keyboard.
import { Menu, MenuContent, MenuItem, MenuList, TextInput } from '@patternfly/react-core';
import { useEffect, useState } from 'react';

interface Props {
  value: string;
  onChange: (v: string) => void;
  /** Called with the typed text (Enter) or a picked suggestion (quoted: an exact value). */
  onSubmit: (v: string) => void;
  suggestions: string[];
  placeholder: string;
}

export function ValueInput({ value, onChange, onSubmit, suggestions, placeholder }: Props) {
  const [open, setOpen] = useState(false);
  const [active, setActive] = useState(-1);
  const shown = suggestions.filter((s) => s.toLowerCase().includes(value.replace(/"/g, '').toLowerCase())).slice(0, 12);
  useEffect(() => setActive(-1), [value]);
  const pick = (s: string) => {
    setOpen(false);
    onSubmit(`"${s}"`);
  };
  return (
    <div style={{ position: 'relative', minWidth: '16rem' }}>
      <TextInput
        aria-label="Filter value"
        data-test="filter-value"
        value={value}
        placeholder={placeholder}
        onChange={(_e, v) => {
          onChange(v);
          setOpen(true);
        }}
        onFocus={() => setOpen(true)}
        onBlur={() => window.setTimeout(() => setOpen(false), 150)}
        onKeyDown={(e) => {
          if (e.key === 'ArrowDown') {
            e.preventDefault();
            setOpen(true);
            setActive((a) => Math.min(a + 1, shown.length - 1));
          } else if (e.key === 'ArrowUp') {
            e.preventDefault();
            setActive((a) => Math.max(a - 1, -1));
          } else if (e.key === 'Escape') setOpen(false);
          else if (e.key === 'Enter') {
            e.preventDefault();
            if (active >= 0 && shown[active]) pick(shown[active]);
            else if (value.trim()) {
              setOpen(false);
              onSubmit(value.trim());
            }
          }
        }}
      />
      {open && shown.length > 0 && (
        <Menu
          data-test="filter-suggestions"
          style={{ position: 'absolute', zIndex: 500, width: '100%', maxHeight: '20rem', overflow: 'auto' }}
          onSelect={(_e, v) => pick(String(v))}
        >
          <MenuContent>
            <MenuList>
              {shown.map((s, i) => (
                <MenuItem key={s} itemId={s} isFocused={i === active} onMouseDown={(e) => e.preventDefault()}>
                  {s}
                </MenuItem>
              ))}
            </MenuList>
          </MenuContent>
        </Menu>
      )}
    </div>
  );
}
