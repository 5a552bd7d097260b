import type { ReactNode } from 'react';

/** A page that only says something (and offers a way on): a refused join, a wrong code, ... */
export function MessagePage({ title, children }: { title: string; children: ReactNode }) {
  return (
    <main className="lobby">
      <div className="panel message">
        <h1>{title}</h1>
        {children}
      </div>
    </main>
  );
}
