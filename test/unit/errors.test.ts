// The error catalog: every code is unique and named KBP_…, and the throws of id allocation, Maglev
// and flag parsing carry theirs (the admin API's replies: admin-api.test).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, KbpError } from '../../src/errors.js';
import { IdAllocator } from '../../src/dataplane/ids.js';
import { tableSize } from '../../src/maglev/index.js';
import { parseHostPort } from '../../src/api/server.js';

describe('error catalog', () => {
  test('codes are unique and prefixed', () => {
    const codes = Object.values(ErrorCode);
    assert.equal(new Set(codes).size, codes.length);
    for (const code of codes) assert.match(code, /^KBP_[A-Z_]+$/);
  });

  test('id allocation, Maglev sizing and HOST:PORT flags throw catalog errors', () => {
    const ids = new IdAllocator(2);
    ids.allocate();
    ids.allocate();
    assert.throws(
      () => ids.allocate(),
      (err) => err instanceof KbpError && err.code === ErrorCode.IdSpaceExhausted,
    );
    assert.throws(() => tableSize(1, 100), { code: 'KBP_NO_TABLE_SIZE' });
    for (const bad of ['10249', ':10249', '127.0.0.1:70000']) assert.throws(() => parseHostPort(bad), { code: 'KBP_INVALID_CONFIG' }, bad);
  });
});
