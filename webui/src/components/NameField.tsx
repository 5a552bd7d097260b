import { useId } from 'react';
import { MAX_NAME_GRAPHEMES } from '../session/protocol';

/** "Your name": the name the others will see, with what is wrong with it said under it. */
export function NameField({
  value,
  onChange,
  error,
  autoFocus,
}: {
  value: string;
  onChange: (name: string) => void;
  error: string | null;
  autoFocus?: boolean;
}) {
  const id = useId();
  return (
    <>
      <label htmlFor={id}>Your name</label>
      <input
        id={id}
        type="text"
        autoComplete="nickname"
        maxLength={MAX_NAME_GRAPHEMES}
        autoFocus={autoFocus}
        value={value}
        onChange={(e) => onChange(e.target.value)}
        aria-invalid={error ? true : undefined}
        aria-describedby={error ? `${id}-err` : undefined}
      />
      {error && (
        <p className="field-error" id={`${id}-err`} role="alert">
          {error}
        </p>
      )}
    </>
  );
}
