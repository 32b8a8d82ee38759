import { z } from 'zod';
import { count, parseWith } from '../../collectors/core/discovery';

// ---------------------------------------------------------------------------------------------
// Our GCP run marker (see discoverGcpExports): optional content, one JSON row written by EXPORT DATA.

const gcpMarkerSchema = z.looseObject({
  // INT64 columns arrive as JSON strings from EXPORT DATA.
  row_count: count.optional(),
  max_export_time: z.string().optional(),
});
export type GcpRunMarker = z.infer<typeof gcpMarkerSchema>;

export function parseGcpRunMarker(value: unknown, object: string): GcpRunMarker {
  return parseWith(gcpMarkerSchema, value, object, 'GCP run marker');
}
