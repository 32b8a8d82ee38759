import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { Decimal } from '../../schemas/decimal';
import { isServiceCategory, type ServiceCategory } from '../../processors/normalize/service-categories';

/*
 * The FinOps toolkit's open data (open-data/README.txt): how Microsoft itself maps an Azure cost
 * row's ConsumedService and ResourceType to FOCUS services, and its UnitOfMeasure to a FOCUS unit
 * and block size. Loaded once, on first use.
 */

function openDataFile(name: string): string {
  const candidates = [
    path.join(__dirname, 'open-data', name),
    path.join(__dirname, '..', '..', '..', 'providers', 'azure', 'open-data', name),
  ];
  const found = candidates.find((p) => fs.existsSync(p));
  if (found === undefined) throw new Error(`${name} not found (looked in ${candidates.join(', ')})`);
  return found;
}

function rowsOf<T>(name: string): T[] {
  // Keys such as "1 " differ from "1" only by a space: values are not trimmed.
  return parse(fs.readFileSync(openDataFile(name), 'utf8'), { columns: true, bom: true }) as T[];
}

export interface AzureService {
  ServiceName: string;
  ServiceCategory: ServiceCategory;
  ServiceSubcategory: string;
  PublisherName: string;
}

let services: { byPair: Map<string, AzureService>; byType: Map<string, AzureService> } | undefined;

function loadServices() {
  const byPair = new Map<string, AzureService>();
  const byType = new Map<string, AzureService>();
  for (const r of rowsOf<Record<string, string>>('services.csv')) {
    if (!isServiceCategory(r.ServiceCategory)) continue;
    const s: AzureService = {
      ServiceName: r.ServiceName,
      ServiceCategory: r.ServiceCategory,
      ServiceSubcategory: r.ServiceSubcategory,
      PublisherName: r.PublisherName,
    };
    const consumed = r.ConsumedService.toLowerCase();
    const type = r.ResourceType.toLowerCase();
    if (!byPair.has(`${consumed}|${type}`)) byPair.set(`${consumed}|${type}`, s);
    if (!byType.has(type)) byType.set(type, s);
  }
  return { byPair, byType };
}

/**
 * The FOCUS service of a row: by (ConsumedService, ResourceType), then by ResourceType alone;
 * undefined when the toolkit does not know it.
 */
export function azureService(
  consumedService: string | null,
  resourceType: string | null,
): AzureService | undefined {
  if (resourceType === null) return undefined;
  services ??= loadServices();
  const type = resourceType.toLowerCase();
  return services.byPair.get(`${(consumedService ?? '').toLowerCase()}|${type}`) ?? services.byType.get(type);
}

/**
 * The ARM resource type of a resource id (`.../providers/Microsoft.Compute/virtualMachines/vm1`
 * -> `microsoft.compute/virtualmachines`; child resources add their type segments), for exports
 * without a ResourceType column; null when the id is not an ARM id.
 */
export function resourceTypeOf(resourceId: string | null): string | null {
  if (resourceId === null) return null;
  const lower = resourceId.toLowerCase();
  const at = lower.lastIndexOf('/providers/');
  if (at < 0) return null;
  const segments = lower.slice(at + '/providers/'.length).split('/');
  if (segments.length < 2 || segments[0] === '' || segments[1] === '') return null;
  const parts = [segments[0]];
  for (let i = 1; i < segments.length; i += 2) parts.push(segments[i]);
  return parts.join('/');
}

let units: Map<string, { block: Decimal; unit: string }> | undefined;

/** The FOCUS unit and block size of a UnitOfMeasure text; undefined when the toolkit does not list it. */
export function azurePricingUnit(unitOfMeasure: string): { block: Decimal; unit: string } | undefined {
  units ??= new Map(
    rowsOf<Record<string, string>>('pricing-units.csv').map((r) => [
      r.UnitOfMeasure,
      { block: new Decimal(r.PricingBlockSize), unit: r.DistinctUnits },
    ]),
  );
  return units.get(unitOfMeasure) ?? units.get(unitOfMeasure.trim());
}
