import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { ErrorCode, LocalFailure, type FailureCode } from '../session/protocol';
import { joinRefusedPage } from './JoinRefused';

const page = (code: FailureCode, message = '') => joinRefusedPage('K7M2QX', { code, message }, () => {});

describe('joinRefusedPage', () => {
  it('gives a gone, full, locked, removed or ended room a page of its own', () => {
    const titles: [FailureCode, string][] = [
      [ErrorCode.roomNotFound, 'No such session'],
      [ErrorCode.roomFull, 'This session is full'],
      [ErrorCode.roomLocked, 'This session is locked'],
      [ErrorCode.removed, 'You were removed'],
      [LocalFailure.ended, 'This session has ended'],
    ];
    for (const [code, title] of titles) expect(renderToStaticMarkup(page(code)!)).toContain(`<h1>${title}</h1>`);
    // Only a full or locked room is worth trying again.
    expect(renderToStaticMarkup(page(ErrorCode.roomFull)!)).toContain('Try again');
    expect(renderToStaticMarkup(page(ErrorCode.removed)!)).not.toContain('Try again');
    expect(renderToStaticMarkup(page(LocalFailure.ended, 'Closing time.')!)).toContain('Closing time.');
  });

  it('leaves the rest to the name form', () => {
    for (const code of [ErrorCode.invalidName, ErrorCode.nameTaken, ErrorCode.boxFull, ErrorCode.rateLimited, LocalFailure.unreachable]) {
      expect(page(code)).toBeNull();
    }
  });
});
