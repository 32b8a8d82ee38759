import crypto from 'node:crypto';

/**
 * Short-lived signed links to an invoice's HTML page, so a browser can open it without an API key
 * (a browser cannot send `Authorization: Bearer`, and the key must never be put in a URL, where
 * logs, history and Referer headers keep it). An authenticated caller allowed to read the invoice
 * asks for a link; the link carries the invoice id's expiry and an HMAC-SHA256 over
 * `<invoice id>\n<expires>` with a server secret (`invoice.html_links.secret`). It opens that one
 * invoice's page and nothing else, until it expires.
 */

export interface SignedLink {
  /** Path and query: /v1/invoices/<id>/html?expires=<epoch s>&sig=<hex>. */
  path: string;
  expires: number;
  expires_at: string;
}

function mac(secret: string | Buffer, invoiceId: string, expires: number): Buffer {
  return crypto.createHmac('sha256', secret).update(`${invoiceId}\n${expires}`, 'utf8').digest();
}

/** A link to the invoice's HTML page valid for `ttlSeconds` from `now`. */
export function signInvoiceLink(args: {
  secret: string | Buffer;
  invoiceId: string;
  ttlSeconds: number;
  now?: Date;
}): SignedLink {
  const now = args.now ?? new Date();
  const expires = Math.floor(now.getTime() / 1000) + args.ttlSeconds;
  const sig = mac(args.secret, args.invoiceId, expires).toString('hex');
  return {
    path: `/v1/invoices/${encodeURIComponent(args.invoiceId)}/html?expires=${expires}&sig=${sig}`,
    expires,
    expires_at: new Date(expires * 1000).toISOString(),
  };
}

export type LinkCheck = 'valid' | 'expired' | 'bad_signature' | 'malformed';

/**
 * Whether `expires` and `sig` are a valid, unexpired signature of `invoiceId`. The signature is
 * compared in constant time; an expiry further ahead than `maxTtlSeconds` is refused (a link
 * made with a longer TTL than the server allows now).
 */
export function checkInvoiceLink(args: {
  secret: string | Buffer;
  invoiceId: string;
  expires: string | undefined;
  sig: string | undefined;
  maxTtlSeconds: number;
  now?: Date;
}): LinkCheck {
  if (!args.expires || !/^\d{1,12}$/.test(args.expires) || !args.sig || !/^[0-9a-f]{64}$/.test(args.sig))
    return 'malformed';
  const expires = Number(args.expires);
  const nowS = Math.floor((args.now ?? new Date()).getTime() / 1000);
  const expected = mac(args.secret, args.invoiceId, expires);
  if (!crypto.timingSafeEqual(expected, Buffer.from(args.sig, 'hex'))) return 'bad_signature';
  if (expires <= nowS || expires > nowS + args.maxTtlSeconds) return 'expired';
  return 'valid';
}
