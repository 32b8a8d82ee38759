import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { Storage, type StorageOptions } from '@google-cloud/storage';
import { BlobServiceClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import { DefaultAzureCredential } from '@azure/identity';
import type { MeterflowConfig } from './config';

/**
 * Object-storage clients for the three clouds. Explicit settings from the config win; anything
 * left unset falls through to each SDK's default credential chain. `credentialSource` says which
 * was used, so an access error can name it without naming the secret.
 */
export interface Client<T> {
  client: T;
  credentialSource: string;
}

export function createS3(config: MeterflowConfig): Client<S3Client> {
  const aws = config.aws;
  const options: S3ClientConfig = { region: aws.region, maxAttempts: 5 };
  if (aws.endpoint) options.endpoint = aws.endpoint;
  if (aws.force_path_style !== undefined) options.forcePathStyle = aws.force_path_style;
  let credentialSource = aws.profile
    ? `AWS default chain (profile ${aws.profile})`
    : 'AWS default credential chain';
  if (aws.access_key_id && aws.secret_access_key) {
    options.credentials = {
      accessKeyId: aws.access_key_id,
      secretAccessKey: aws.secret_access_key,
      sessionToken: aws.session_token,
    };
    credentialSource = `access key ${aws.access_key_id} from meterflow config`;
  } else if (aws.profile) {
    process.env.AWS_PROFILE ??= aws.profile;
  }
  return { client: new S3Client(options), credentialSource };
}

export function createGcs(config: MeterflowConfig): Client<Storage> {
  const gcp = config.gcp;
  const options: StorageOptions = {
    projectId: gcp.project_id,
    retryOptions: { autoRetry: true, maxRetries: 5 },
  };
  let credentialSource = 'Google Application Default Credentials';
  if (gcp.key_file) {
    options.keyFilename = gcp.key_file;
    credentialSource = `service-account key file ${gcp.key_file}`;
  }
  if (gcp.endpoint) {
    options.apiEndpoint = gcp.endpoint;
    if (!gcp.key_file && config.local_stack) {
      // fake-gcs-server accepts any token; skip the credential lookup entirely.
      options.token = 'local-stack';
      credentialSource = 'none (local fake-gcs-server)';
    }
  }
  return { client: new Storage(options), credentialSource };
}

export function createAzureBlob(config: MeterflowConfig): Client<BlobServiceClient> {
  const az = config.azure;
  if (az.connection_string) {
    const account = az.connection_string.match(/AccountName=([^;]+)/)?.[1] ?? 'unknown';
    return {
      client: BlobServiceClient.fromConnectionString(az.connection_string),
      credentialSource: `connection string of account ${account}`,
    };
  }
  if (!az.account_name) throw new Error('azure.account_name or azure.connection_string must be set');
  const url = az.endpoint ?? `https://${az.account_name}.blob.core.windows.net`;
  if (az.sas_token)
    return {
      client: new BlobServiceClient(`${url}?${az.sas_token}`),
      credentialSource: `SAS token for ${az.account_name}`,
    };
  if (az.account_key) {
    return {
      client: new BlobServiceClient(url, new StorageSharedKeyCredential(az.account_name, az.account_key)),
      credentialSource: `shared key of account ${az.account_name}`,
    };
  }
  // Environment, workload identity, managed identity, Azure CLI, ...
  return {
    client: new BlobServiceClient(url, new DefaultAzureCredential()),
    credentialSource: 'Azure DefaultAzureCredential chain',
  };
}
