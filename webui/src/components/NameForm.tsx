import { useState, type FormEvent } from 'react';
import { ErrorCode, validateUserName } from '../session/protocol';
import type { Failure } from '../session/reducer';
import { loadName, saveName } from '../session/seat';
import { BackToLobby } from './JoinRefused';
import { NameField } from './NameField';

/** Asks for the name the others will see (remembered on this device), and joins with it. */
export function NameForm({ code, failed, onJoin }: { code: string; failed: Failure | null; onJoin: (name: string) => void }) {
  const [name, setName] = useState(loadName);
  const [nameError, setNameError] = useState<string | null>(null);

  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    const err = validateUserName(name);
    setNameError(err);
    if (err) return;
    saveName(name.trim());
    onJoin(name.trim());
  };
  const refusedName = failed?.code === ErrorCode.invalidName;
  const otherError = failed && !refusedName ? failed.message : null;

  return (
    <main className="lobby">
      <header className="lobby-head">
        <h1>Join room <span className="code">{code}</span></h1>
        <p className="tagline">Pick the name the others will see.</p>
      </header>
      <form className="panel" onSubmit={onSubmit}>
        <NameField value={name} onChange={setName} error={nameError ?? (refusedName ? failed.message : null)} autoFocus />
        <button type="submit" className="primary">
          Join
        </button>
        {otherError && (
          <p className="field-error" role="alert">
            {otherError}
          </p>
        )}
      </form>
      <p>
        <BackToLobby />
      </p>
    </main>
  );
}
