import { z } from 'zod';
import { str } from '../../runtime/config-schema';

/** The `gcp:` section of meterflow.yaml. */
export const GcpConfigSchema = z
  .object({
    project_id: str('Project that owns the buckets.').optional(),
    endpoint: str(
      'Cloud Storage API endpoint. Unset: Google, or the local fake-gcs-server with local_stack: true.',
    ).optional(),
    key_file: str('Service-account key file. Unset: Application Default Credentials.').optional(),
    exports: z
      .array(
        z
          .object({
            name: str('Name of this export in logs, metrics and scopes.'),
            bucket: str('GCS bucket the BigQuery EXPORT DATA runs write to.'),
            prefix: z
              .string()
              .default('')
              .describe(
                'Object prefix above <billing account>/<YYYYMM>/run=<RUN_ID>/ (see README, GCP layout).',
              ),
          })
          .strict(),
      )
      .default([])
      .describe('GCP billing exports the GCP collector reads.'),
  })
  .strict();

export type GcpSection = z.output<typeof GcpConfigSchema>;
