import { z } from 'zod';
import { DeadLetterReasons } from '../../runtime/errors';
import type { ProviderDefinition } from '../../providers/provider';
import { PROVIDERS } from '../../providers/registry';

/**
 * Customer attribution: which customer a usage line belongs to.
 *
 * Precedence (first rule that yields a customer wins):
 *   1. tag         the first key of `tag_keys.<provider>` (in configured order) present on the
 *                  line's Tags with a non-blank value; that value is the customer id.
 *                  Rule: `tag:<configured key>`.
 *   2. sub_account the line's sub-account (AWS usage account / Azure subscription / GCP project)
 *                  listed in `accounts`. Rule: `sub_account`.
 *   3. billing_account the line's billing account (AWS payer / Azure EA enrollment, MCA billing
 *                  profile or MCA billing account / GCP billing account) listed in
 *                  `billing_accounts`. Rule: `billing_account`.
 *   4. unallocated `unallocated_customer`. Rule: `unallocated`. Unattributed usage is never
 *                  dropped; with `require_attribution: true` (or an empty / null
 *                  unallocated_customer) the line is rejected with reason `unknown_customer`.
 *
 * A tag is a claim made by whoever can tag a resource, an account mapping is the operator's: when
 * both name a customer and they differ, `on_conflict` decides (default: dead-letter the line with
 * reason `attribution_conflict`; `tag` or `account` let one win). An account listed in
 * `tag_allow_list` accepts on its lines only tags naming the customers listed for it (or its own
 * mapped customer); any other tag value dead-letters the line, whatever `on_conflict` says.
 *
 * Tag keys are matched against the normalized Tags of the UsageRecord (see normalize.ts: AWS user
 * tags WITHOUT the `user:` prefix, AWS system tags as `aws:<k>`, cost categories as
 * `costCategory:<name>`, GCP labels and Azure / FOCUS tag keys as written). A key matches exactly
 * first, then case-insensitively (Athena / CUR 2.0 lower-case tag keys). Account ids match
 * exactly first, then case-insensitively (Azure GUID casing varies).
 */
export const ATTRIBUTION_PRECEDENCE = ['tag', 'sub_account', 'billing_account', 'unallocated'] as const;
export type AttributionRuleKind = (typeof ATTRIBUTION_PRECEDENCE)[number];

const keyList = (description: string) => z.array(z.string().min(1)).default([]).describe(description);
const idMap = (description: string) =>
  z.record(z.string().min(1), z.string().min(1)).default({}).describe(description);

export const AttributionConfigSchema = z
  .object({
    unallocated_customer: z
      .string()
      .nullable()
      .default('unallocated')
      .describe(
        'Customer id for usage no rule attributes. Empty or null: such usage is rejected as unknown_customer.',
      ),
    require_attribution: z
      .boolean()
      .default(false)
      .describe(
        'Reject (unknown_customer) usage that no tag or account rule attributes, instead of unallocated.',
      ),
    tag_keys: z
      .object(
        Object.fromEntries(
          PROVIDERS.flatMap((p: ProviderDefinition) => (p.tagKeys ? [[p.name, keyList(p.tagKeys)]] : [])),
        ) as Record<string, ReturnType<typeof keyList>>,
      )
      .strict()
      .prefault({})
      .describe('Tag / label keys holding the customer id, checked in order before any account rule.'),
    accounts: idMap('AWS usage account id / Azure subscription id / GCP project id -> customer id.'),
    billing_accounts: idMap(
      'AWS payer account / Azure billing account or profile / GCP billing account id -> customer id.',
    ),
    on_conflict: z
      .enum(['dead_letter', 'tag', 'account'])
      .default('dead_letter')
      .describe(
        'When a tag and the account mapping (accounts, billing_accounts) name different customers: dead_letter the line (reason attribution_conflict), or let the tag or the account win.',
      ),
    tag_allow_list: z
      .record(z.string().min(1), z.array(z.string().min(1)))
      .default({})
      .describe(
        'Account id (sub-account or billing account) -> the customers a tag on its lines may name. A tag naming another customer dead-letters the line (attribution_conflict), whatever on_conflict says.',
      ),
  })
  .strict();

export type AttributionConfig = z.output<typeof AttributionConfigSchema>;
export type AttributionConfigInput = z.input<typeof AttributionConfigSchema>;

export interface AttributionInput {
  /** aws | gcp | azure (anything else has no tag keys) */
  provider: string;
  tags: Record<string, string>;
  subAccountId: string | null;
  /** Candidate billing account ids, most specific first. */
  billingAccountIds: Array<string | null>;
}

export type AttributionResult =
  | { ok: true; customerId: string; rule: string }
  | {
      ok: false;
      reason: typeof DeadLetterReasons.UNKNOWN_CUSTOMER | typeof DeadLetterReasons.ATTRIBUTION_CONFLICT;
      message: string;
    };

function lookup(map: Record<string, string>, id: string): string | undefined {
  if (Object.prototype.hasOwnProperty.call(map, id)) return map[id];
  const folded = id.toLowerCase();
  for (const [k, v] of Object.entries(map)) if (k.toLowerCase() === folded) return v;
  return undefined;
}

function tagValue(tags: Record<string, string>, key: string): string | undefined {
  const exact = Object.prototype.hasOwnProperty.call(tags, key) ? tags[key] : undefined;
  if (exact !== undefined && exact.trim() !== '') return exact.trim();
  const folded = key.toLowerCase();
  for (const [k, v] of Object.entries(tags)) {
    if (k.toLowerCase() === folded && v.trim() !== '') return v.trim();
  }
  return undefined;
}

function tagKeysFor(config: AttributionConfig, provider: string): string[] {
  const keys = config.tag_keys as Record<string, string[] | undefined>;
  return Object.prototype.hasOwnProperty.call(keys, provider.toLowerCase())
    ? (keys[provider.toLowerCase()] ?? [])
    : [];
}

export function attributeCustomer(input: AttributionInput, config: AttributionConfig): AttributionResult {
  let tag: { customerId: string; rule: string } | undefined;
  for (const key of tagKeysFor(config, input.provider)) {
    const v = tagValue(input.tags, key);
    if (v !== undefined) {
      tag = { customerId: v, rule: `tag:${key}` };
      break;
    }
  }
  const account = accountCustomer(input, config);
  if (tag !== undefined) {
    // Whoever can tag a resource must not be able to move its cost onto another customer's invoice.
    const allowAccount = allowListAccount(input, config);
    const allowed = allowAccount === undefined ? undefined : lookupList(config.tag_allow_list, allowAccount);
    if (
      allowed !== undefined &&
      !allowed.includes(tag.customerId) &&
      tag.customerId !== account?.customerId
    ) {
      return conflict(
        `tag ${tag.rule.slice(4)} names customer "${tag.customerId}", which the allow-list of account ` +
          `${allowAccount} does not hold`,
      );
    }
    if (account === undefined || account.customerId === tag.customerId) return { ok: true, ...tag };
    if (config.on_conflict === 'tag') return { ok: true, ...tag };
    if (config.on_conflict === 'account') return { ok: true, ...account };
    return conflict(
      `tag ${tag.rule.slice(4)} names customer "${tag.customerId}" but ${account.rule} maps the line to ` +
        `"${account.customerId}" (normalize.attribution.on_conflict: dead_letter)`,
    );
  }
  if (account !== undefined) return { ok: true, ...account };
  const fallback = config.unallocated_customer;
  if (config.require_attribution || fallback === null || fallback.trim() === '') {
    return {
      ok: false,
      reason: DeadLetterReasons.UNKNOWN_CUSTOMER,
      message:
        `no attribution rule matched (sub-account ${input.subAccountId ?? 'none'}, ` +
        `billing account ${input.billingAccountIds.filter((x) => x !== null).join('/') || 'none'})`,
    };
  }
  return { ok: true, customerId: fallback, rule: 'unallocated' };
}

function conflict(message: string): AttributionResult {
  return { ok: false, reason: DeadLetterReasons.ATTRIBUTION_CONFLICT, message };
}

/** The customer the line's sub-account, else its billing account, maps to. */
function accountCustomer(
  input: AttributionInput,
  config: AttributionConfig,
): { customerId: string; rule: string } | undefined {
  if (input.subAccountId !== null) {
    const c = lookup(config.accounts, input.subAccountId);
    if (c !== undefined) return { customerId: c, rule: 'sub_account' };
  }
  for (const id of input.billingAccountIds) {
    if (id === null) continue;
    const c = lookup(config.billing_accounts, id);
    if (c !== undefined) return { customerId: c, rule: 'billing_account' };
  }
  return undefined;
}

/** The account whose allow-list applies to the line: its sub-account's, else its billing account's. */
function allowListAccount(input: AttributionInput, config: AttributionConfig): string | undefined {
  for (const id of [input.subAccountId, ...input.billingAccountIds]) {
    if (id !== null && lookupList(config.tag_allow_list, id) !== undefined) return id;
  }
  return undefined;
}

function lookupList(map: Record<string, string[]>, id: string): string[] | undefined {
  if (Object.prototype.hasOwnProperty.call(map, id)) return map[id];
  const folded = id.toLowerCase();
  for (const [k, v] of Object.entries(map)) if (k.toLowerCase() === folded) return v;
  return undefined;
}
