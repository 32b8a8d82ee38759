/**
 * Revision ids a re-rate writes (`meterflow pricebook rerate`, processors/rerate): the published
 * revision it re-prices, the marker, and the price-book version, `<published>+rr-<version>`.
 * The re-rate writes them and invoices read them (an adjustment names the version that caused
 * it), so the convention lives here with the other ids, not in either of them.
 */

/** The marker between a revision id and the version it was re-rated with. */
const RERATE_MARK = '+rr-';

/** The id of the revision that re-rates `published` with `version`. */
export function rerateRevisionId(published: string, version: string): string {
  return `${published}${RERATE_MARK}${version}`;
}

/** The price-book version a revision id was last re-rated with, or undefined for a plain revision. */
export function rerateVersionOf(revisionId: string): string | undefined {
  const at = revisionId.lastIndexOf(RERATE_MARK);
  return at < 0 ? undefined : revisionId.slice(at + RERATE_MARK.length);
}
