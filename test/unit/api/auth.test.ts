import crypto from 'node:crypto';
import {
  canReadCustomer,
  createAuthenticator,
  generateApiKey,
  hashApiKey,
  requireAdmin,
} from '../../../api/auth';
import { parseApiOptions } from '../../../api/config';
import { ApiError } from '../../../api/errors';

const ADMIN_KEY = 'admin-secret-key';
const ACME_KEY = 'acme-secret-key';

function keys() {
  return parseApiOptions({
    keys: [
      { id: 'ops', key_sha256: hashApiKey(ADMIN_KEY), role: 'admin' },
      // Upper-case hex in the config is accepted and normalised.
      {
        id: 'acme-portal',
        key_sha256: hashApiKey(ACME_KEY).toUpperCase(),
        role: 'customer',
        customer: 'acme',
      },
    ],
  }).keys;
}

function apiError(fn: () => unknown): ApiError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ApiError) return err;
    throw err;
  }
  throw new Error('expected an ApiError');
}

describe('hashApiKey', () => {
  it('is the hex sha256 of the key text', () => {
    // FIPS 180-2 test vector.
    expect(hashApiKey('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(hashApiKey('caf\u00e9')).toBe(crypto.createHash('sha256').update('café', 'utf8').digest('hex'));
  });

  it('generates distinct keys that hash to 64 hex characters', () => {
    const a = generateApiKey();
    const b = generateApiKey();
    expect(a).not.toBe(b);
    expect(a.length).toBeGreaterThan(40);
    expect(hashApiKey(a)).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('authenticator', () => {
  const auth = createAuthenticator(keys());

  it('maps an admin key and a customer key to their principals', () => {
    expect(auth.authenticate(`Bearer ${ADMIN_KEY}`)).toEqual({ keyId: 'ops', role: 'admin' });
    expect(auth.authenticate(`Bearer ${ACME_KEY}`)).toEqual({
      keyId: 'acme-portal',
      role: 'customer',
      customer: 'acme',
    });
    expect(auth.authenticate(`bearer   ${ACME_KEY}`)).toMatchObject({ customer: 'acme' });
  });

  it.each([
    ['no header', undefined],
    ['empty header', ''],
    ['basic auth', `Basic ${Buffer.from(`x:${ADMIN_KEY}`).toString('base64')}`],
    ['bearer without key', 'Bearer '],
    ['the bare key', ADMIN_KEY],
    ['two tokens', `Bearer ${ADMIN_KEY} extra`],
  ])('rejects %s with 401', (_name, header) => {
    const err = apiError(() => auth.authenticate(header));
    expect(err.status).toBe(401);
    expect(err.code).toBe('unauthorized');
  });

  it.each([
    ['a wrong key', 'Bearer not-a-key'],
    ['the stored hash instead of the key', `Bearer ${hashApiKey(ADMIN_KEY)}`],
    ['a key with a changed last character', `Bearer ${ADMIN_KEY.slice(0, -1)}X`],
    ['a prefix of a key', `Bearer ${ADMIN_KEY.slice(0, 5)}`],
  ])('rejects %s with 401 invalid API key', (_name, header) => {
    const err = apiError(() => auth.authenticate(header));
    expect(err.status).toBe(401);
    expect(err.message).toBe('invalid API key');
  });

  it('compares digests with timingSafeEqual against every key, matching or not', () => {
    const spy = jest.spyOn(crypto, 'timingSafeEqual');
    try {
      auth.authenticate(`Bearer ${ADMIN_KEY}`); // matches the first entry
      expect(spy).toHaveBeenCalledTimes(2);
      spy.mockClear();
      apiError(() => auth.authenticate('Bearer wrong'));
      expect(spy).toHaveBeenCalledTimes(2);
      for (const [a, b] of spy.mock.calls) {
        expect((a as Buffer).length).toBe(32);
        expect((b as Buffer).length).toBe(32);
      }
    } finally {
      spy.mockRestore();
    }
  });

  it('answers 401 to everything when no keys are configured', () => {
    const none = createAuthenticator([]);
    expect(apiError(() => none.authenticate(`Bearer ${ADMIN_KEY}`)).status).toBe(401);
  });
});

describe('roles', () => {
  it('admin-only routes refuse customer keys with 403', () => {
    expect(() => requireAdmin({ keyId: 'ops', role: 'admin' })).not.toThrow();
    const err = apiError(() => requireAdmin({ keyId: 'k', role: 'customer', customer: 'acme' }));
    expect(err.status).toBe(403);
    expect(err.code).toBe('forbidden');
  });

  it('a customer key reads its own customer only; admin reads all', () => {
    const acme = { keyId: 'k', role: 'customer', customer: 'acme' } as const;
    expect(canReadCustomer(acme, 'acme')).toBe(true);
    expect(canReadCustomer(acme, 'globex')).toBe(false);
    expect(canReadCustomer(acme, 'ACME')).toBe(false);
    expect(canReadCustomer(acme, 'acme ')).toBe(false);
    expect(canReadCustomer({ keyId: 'ops', role: 'admin' }, 'globex')).toBe(true);
  });
});

describe('ApiConfigSchema', () => {
  const hash = hashApiKey('k');

  it('fills defaults', () => {
    expect(parseApiOptions({})).toEqual({
      host: '127.0.0.1',
      port: 8080,
      keys: [],
      max_range_days: 366,
      request_timeout_ms: 30_000,
      page_size: 5_000,
      rate_limit_per_second: 10,
      rate_limit_burst: 20,
      max_concurrent_requests: 8,
      request_deadline_ms: 60_000,
    });
    // Environment overrides arrive as text.
    expect(parseApiOptions({ port: '0', max_range_days: '31' })).toMatchObject({
      port: 0,
      max_range_days: 31,
    });
  });

  it.each([
    ['a customer key without a customer', [{ id: 'a', key_sha256: hash, role: 'customer' }], 'customer'],
    [
      'an admin key with a customer',
      [{ id: 'a', key_sha256: hash, role: 'admin', customer: 'x' }],
      'customer',
    ],
    ['a plain-text key', [{ id: 'a', key_sha256: 'secret', role: 'admin' }], 'key_sha256'],
    ['an unknown role', [{ id: 'a', key_sha256: hash, role: 'root' }], 'role'],
    ['an unknown field', [{ id: 'a', key_sha256: hash, role: 'admin', key: 'secret' }], 'key'],
    [
      'duplicate ids',
      [
        { id: 'a', key_sha256: hash, role: 'admin' },
        { id: 'a', key_sha256: hashApiKey('other'), role: 'admin' },
      ],
      'duplicate id',
    ],
    [
      'the same key twice',
      [
        { id: 'a', key_sha256: hash, role: 'admin' },
        { id: 'b', key_sha256: hash.toUpperCase(), role: 'customer', customer: 'acme' },
      ],
      'duplicate key',
    ],
  ])('rejects %s', (_name, keysInput, mention) => {
    expect(() => parseApiOptions({ keys: keysInput })).toThrow(mention);
  });

  it('rejects unknown options and out-of-range numbers', () => {
    expect(() => parseApiOptions({ prot: 8080 })).toThrow();
    expect(() => parseApiOptions({ port: 70000 })).toThrow();
    expect(() => parseApiOptions({ max_range_days: 0 })).toThrow();
  });
});
