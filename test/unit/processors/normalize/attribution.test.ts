import { z } from 'zod';
import {
  ATTRIBUTION_PRECEDENCE,
  AttributionConfigSchema,
  attributeCustomer,
  NormalizeOptionsSchema,
  parseNormalizeOptions,
} from '../../../../processors/normalize';
import { ok, rawRows, run, withColumns } from './helpers';

const aws = rawRows('aws/legacy-cur/koku_test_cur.csv', {
  provider: 'aws',
  format: 'aws-cur-legacy',
  billing_period: '2018-06',
})[0];
const azure = rawRows('azure/ea/finops-toolkit_EA_AmortizedCost_Small.csv', {
  provider: 'azure',
  format: 'azure-amortized',
  billing_period: '2023-09',
})[0];
const gcp = rawRows('gcp/bigquery-flattened/koku_2022-08-01_5.csv', {
  provider: 'gcp',
  format: 'gcp-detailed',
  billing_period: '2022-08',
})[0];

describe('attribution config schema', () => {
  it('fills documented defaults', () => {
    expect(AttributionConfigSchema.parse({})).toEqual({
      unallocated_customer: 'unallocated',
      require_attribution: false,
      tag_keys: { aws: [], gcp: [], azure: [] },
      accounts: {},
      billing_accounts: {},
      on_conflict: 'dead_letter',
      tag_allow_list: {},
    });
    expect(parseNormalizeOptions().attribution.unallocated_customer).toBe('unallocated');
  });

  it('describes every key and rejects unknown keys', () => {
    const json = z.toJSONSchema(AttributionConfigSchema) as {
      properties: Record<string, { description?: string }>;
    };
    for (const key of [
      'unallocated_customer',
      'require_attribution',
      'tag_keys',
      'accounts',
      'billing_accounts',
    ]) {
      expect(json.properties[key].description).toEqual(expect.any(String));
    }
    expect(() => AttributionConfigSchema.parse({ tagKeys: {} })).toThrow();
    expect(() => NormalizeOptionsSchema.parse({ attribution: { accounts: { a: '' } } })).toThrow();
  });

  it('exports the precedence in order', () => {
    expect(ATTRIBUTION_PRECEDENCE).toEqual(['tag', 'sub_account', 'billing_account', 'unallocated']);
  });
});

describe('attribution precedence', () => {
  const config = AttributionConfigSchema.parse({
    tag_keys: { aws: ['customer', 'tenant'], gcp: ['customer'], azure: ['Customer'] },
    accounts: { '6838635603105': 'acct-customer', 'cloud-billing-292519': 'project-customer' },
    billing_accounts: { '6838635603105': 'payer-customer', '8611537': 'enrollment-customer' },
  });
  const input = (tags: Record<string, string>, sub: string | null, billing: string | null) => ({
    provider: 'aws',
    tags,
    subAccountId: sub,
    billingAccountIds: [billing],
  });

  it('1. first configured tag key with a value wins', () => {
    const tagWins = { ...config, on_conflict: 'tag' as const };
    expect(
      attributeCustomer(input({ tenant: 't', customer: 'c' }, '6838635603105', '6838635603105'), tagWins),
    ).toEqual({
      ok: true,
      customerId: 'c',
      rule: 'tag:customer',
    });
    expect(attributeCustomer(input({ tenant: 't', customer: '  ' }, null, null), config)).toMatchObject({
      customerId: 't',
      rule: 'tag:tenant',
    });
    expect(attributeCustomer(input({ CUSTOMER: 'upper' }, null, null), config)).toMatchObject({
      customerId: 'upper',
      rule: 'tag:customer',
    });
  });

  it('a tag naming another customer than the account mapping is a conflict, dead-lettered by default', () => {
    const tagged = input({ customer: 'mallory' }, '6838635603105', '6838635603105');
    expect(attributeCustomer(tagged, config)).toEqual({
      ok: false,
      reason: 'attribution_conflict',
      message: expect.stringContaining('"mallory" but sub_account maps the line to "acct-customer"'),
    });
    expect(attributeCustomer(tagged, { ...config, on_conflict: 'account' })).toEqual({
      ok: true,
      customerId: 'acct-customer',
      rule: 'sub_account',
    });
    expect(attributeCustomer(tagged, { ...config, on_conflict: 'tag' })).toMatchObject({
      customerId: 'mallory',
    });
    // A tag that agrees with the account mapping is no conflict.
    expect(
      attributeCustomer(input({ customer: 'acct-customer' }, '6838635603105', null), config),
    ).toMatchObject({ ok: true, customerId: 'acct-customer', rule: 'tag:customer' });
  });

  it("an account's allow-list bounds the customers its tags may name, whatever on_conflict says", () => {
    const listed = AttributionConfigSchema.parse({
      tag_keys: { aws: ['customer'] },
      on_conflict: 'tag',
      tag_allow_list: { '111122223333': ['acme', 'globex'] },
    });
    expect(attributeCustomer(input({ customer: 'globex' }, '111122223333', null), listed)).toMatchObject({
      ok: true,
      customerId: 'globex',
    });
    expect(attributeCustomer(input({ customer: 'initech' }, '111122223333', null), listed)).toEqual({
      ok: false,
      reason: 'attribution_conflict',
      message: expect.stringContaining('allow-list of account 111122223333'),
    });
    // The list applies through the billing account too, and only to accounts that have one.
    expect(attributeCustomer(input({ customer: 'initech' }, 'other', '111122223333'), listed)).toMatchObject({
      ok: false,
      reason: 'attribution_conflict',
    });
    expect(attributeCustomer(input({ customer: 'initech' }, 'other', 'other'), listed)).toMatchObject({
      ok: true,
      customerId: 'initech',
    });
  });

  it('2. sub-account before 3. billing account before 4. unallocated', () => {
    expect(attributeCustomer(input({}, '6838635603105', '6838635603105'), config)).toMatchObject({
      customerId: 'acct-customer',
      rule: 'sub_account',
    });
    expect(attributeCustomer(input({}, 'other', '6838635603105'), config)).toMatchObject({
      customerId: 'payer-customer',
      rule: 'billing_account',
    });
    expect(attributeCustomer(input({}, 'other', 'other'), config)).toMatchObject({
      customerId: 'unallocated',
      rule: 'unallocated',
    });
  });

  it('tag keys are per provider', () => {
    expect(
      attributeCustomer({ ...input({ customer: 'x' }, null, null), provider: 'azure' }, config),
    ).toMatchObject({
      rule: 'tag:Customer',
    });
    expect(
      attributeCustomer({ ...input({ tenant: 'x' }, null, null), provider: 'gcp' }, config),
    ).toMatchObject({
      rule: 'unallocated',
    });
  });

  it('require_attribution or an empty unallocated customer rejects unattributed usage', () => {
    const strict = AttributionConfigSchema.parse({ require_attribution: true });
    expect(attributeCustomer(input({}, 'a', 'b'), strict)).toMatchObject({ ok: false });
    for (const unallocated_customer of ['', null]) {
      const c = AttributionConfigSchema.parse({ unallocated_customer });
      expect(attributeCustomer(input({}, 'a', 'b'), c).ok).toBe(false);
    }
  });
});

describe('attribution through normalizeRow', () => {
  const options = {
    attribution: {
      unallocated_customer: 'house',
      // These fixtures tag lines of mapped accounts: the tag is meant to win here.
      on_conflict: 'tag' as const,
      tag_keys: { aws: ['customer'], gcp: ['customer'], azure: ['org'] },
      accounts: {
        '6838635603105': 'aws-acct',
        'cloud-billing-292519': 'gcp-project',
        '9EC51CFD-5CA7-4D76-8101-DD0A4ABC5674': 'sub',
      },
      billing_accounts: { '018984-D0AAA4-940B88': 'gcp-billing', '8611537': 'ea' },
    },
  };

  it('AWS: resourceTags/user:customer (tag key without user:) beats the usage account', () => {
    const tagged = ok(withColumns(aws, { 'resourceTags/user:customer': 'acme' }), options);
    expect(tagged).toMatchObject({ x_CustomerId: 'acme', x_AttributionRule: 'tag:customer' });
    expect(ok(aws, options)).toMatchObject({ x_CustomerId: 'aws-acct', x_AttributionRule: 'sub_account' });
    const athena = rawRows('aws/legacy-cur/koku_2022-07-01-athena-style-columns.csv', {
      provider: 'aws',
      format: 'aws-cur-legacy',
      billing_period: '2022-07',
    })[0];
    expect(ok(withColumns(athena, { resource_tags_user_customer: 'globex' }), options)).toMatchObject({
      x_CustomerId: 'globex',
      x_AttributionRule: 'tag:customer',
    });
    expect(ok(athena, options)).toMatchObject({ x_CustomerId: 'house', x_AttributionRule: 'unallocated' });
  });

  it('Azure: tag, then subscription (case-insensitive GUID), then enrollment', () => {
    expect(ok(azure, options)).toMatchObject({ x_CustomerId: 'trey', x_AttributionRule: 'tag:org' });
    const untagged = withColumns(azure, { Tags: undefined });
    expect(ok(untagged, options)).toMatchObject({ x_CustomerId: 'sub', x_AttributionRule: 'sub_account' });
    const otherSub = withColumns(untagged, { SubscriptionId: '00000000-0000-0000-0000-000000000000' });
    expect(ok(otherSub, options)).toMatchObject({ x_CustomerId: 'ea', x_AttributionRule: 'billing_account' });
  });

  it('GCP: label, then project, then billing account', () => {
    const labelled = withColumns(gcp, { labels: "[{'key': 'customer', 'value': 'initech'}]" });
    expect(ok(labelled, options)).toMatchObject({
      x_CustomerId: 'initech',
      x_AttributionRule: 'tag:customer',
    });
    expect(ok(gcp, options)).toMatchObject({ x_CustomerId: 'gcp-project', x_AttributionRule: 'sub_account' });
    const otherProject = withColumns(gcp, { 'project.id': 'other' });
    expect(ok(otherProject, options)).toMatchObject({
      x_CustomerId: 'gcp-billing',
      x_AttributionRule: 'billing_account',
    });
  });

  it('unattributed usage is kept as unallocated, or rejected as unknown_customer when required', () => {
    expect(ok(gcp)).toMatchObject({ x_CustomerId: 'unallocated', x_AttributionRule: 'unallocated' });
    const r = run(gcp, { attribution: { require_attribution: true } });
    expect(r).toMatchObject({ ok: false, reason: 'unknown_customer' });
    expect(run(gcp, { attribution: { unallocated_customer: '' } })).toMatchObject({
      reason: 'unknown_customer',
    });
    expect(
      run(gcp, { attribution: { require_attribution: true, accounts: { 'cloud-billing-292519': 'p' } } }),
    ).toMatchObject({
      ok: true,
    });
  });
});
