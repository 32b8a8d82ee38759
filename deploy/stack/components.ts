import type { StackComponent } from './component';
import { elasticsearchComponent, elasticsearchSecureComponent } from './elasticsearch';
import { kafkaComponent, kafkaSecureComponent } from './kafka';
import { azureBlobComponent, gcsComponent, s3Component } from './object-stores';
import { toxiproxyComponent } from './toxiproxy';

/** The servers `meterflow stack up` starts, in order. */
export const STACK_COMPONENTS: StackComponent[] = [
  kafkaComponent,
  elasticsearchComponent,
  s3Component,
  gcsComponent,
  azureBlobComponent,
  toxiproxyComponent,
];

/** Components started only when named (`meterflow stack up elasticsearch-secure`). */
export const OPTIONAL_STACK_COMPONENTS: StackComponent[] = [
  elasticsearchSecureComponent,
  kafkaSecureComponent,
];
