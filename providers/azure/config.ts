import { z } from 'zod';
import { str } from '../../runtime/config-schema';

/** The `azure:` section of meterflow.yaml. */
export const AzureConfigSchema = z
  .object({
    connection_string: str('Storage connection string. Takes precedence over the other settings.').optional(),
    account_name: str('Storage account name.').optional(),
    account_key: str('Shared key of the account.').optional(),
    sas_token: str('SAS token (without the leading "?").').optional(),
    endpoint: str(
      'Blob service URL. Unset: https://<account_name>.blob.core.windows.net, or Azurite with local_stack: true.',
    ).optional(),
    exports: z
      .array(
        z
          .object({
            name: str('Name of this export in logs, metrics and scopes.'),
            container: str('Blob container the Cost Management export writes to.'),
            prefix: z
              .string()
              .default('')
              .describe('Folder path of the export (its root directory); empty for the container root.'),
          })
          .strict(),
      )
      .default([])
      .describe('Azure Cost Management exports the Azure collector reads.'),
  })
  .strict();

export type AzureSection = z.output<typeof AzureConfigSchema>;

/** Azurite's well-known development account; public, documented by Microsoft. */
export const AZURITE_ACCOUNT = 'devstoreaccount1';
export const AZURITE_KEY =
  'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';
