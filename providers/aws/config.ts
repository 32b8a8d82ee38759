import { z } from 'zod';
import { bool, str } from '../../runtime/config-schema';

/** The `aws:` section of meterflow.yaml. */
export const AwsConfigSchema = z
  .object({
    region: str('AWS region of the buckets.').default('us-east-1'),
    endpoint: str(
      'S3 endpoint URL. Unset: AWS itself, or the local stack S3 server with local_stack: true.',
    ).optional(),
    force_path_style: bool('Path-style bucket addressing (needed by most S3-compatible servers).').optional(),
    access_key_id: str(
      'Access key id. Unset: the SDK default chain (env, shared files, SSO, instance or task role).',
    ).optional(),
    secret_access_key: str('Secret access key, with access_key_id.').optional(),
    session_token: str('Session token for temporary credentials.').optional(),
    profile: str('Shared-config profile name for the default chain.').optional(),
    exports: z
      .array(
        z
          .object({
            name: str('Name of this export in logs, metrics and scopes.'),
            bucket: str('S3 bucket the export is delivered to.'),
            prefix: z
              .string()
              .default('')
              .describe('Key prefix of the export (the report path prefix); empty for the bucket root.'),
            type: z
              .enum(['auto', 'cur-legacy', 'data-exports'])
              .default('auto')
              .describe(
                'cur-legacy: Cost and Usage Report 1.0 manifests; data-exports: CUR 2.0 and FOCUS Data Exports manifests; auto: both.',
              ),
          })
          .strict(),
      )
      .default([])
      .describe('AWS billing exports the AWS collector reads.'),
  })
  .strict();

export type AwsSection = z.output<typeof AwsConfigSchema>;
