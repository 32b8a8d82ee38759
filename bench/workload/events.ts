/**
 * Deployment capacity-hours as a platform would meter them: one CloudEvent per deployment and hour,
 * 50 customers, 3 regions, quantities with two decimals. Deterministic from `start`.
 */
export function deploymentEvents(start: number, count: number): Record<string, unknown>[] {
  const hour = 3_600_000;
  const base = Date.now() - 24 * hour;
  return Array.from({ length: count }, (_, k) => {
    const i = start + k;
    return {
      specversion: '1.0',
      id: `cap-${i}`,
      source: `//deploy.example.com/cluster-${i % 7}`,
      type: 'com.example.deployment.capacity',
      time: new Date(base + (i % 24) * hour).toISOString(),
      datacontenttype: 'application/json',
      data: {
        customer: `customer-${i % 50}`,
        service: 'Deployments',
        sku: i % 3 === 0 ? 'deploy-large' : 'deploy-standard',
        unit: 'Hours',
        quantity: `${1 + (i % 4)}.${String(i % 100).padStart(2, '0')}`,
        region: ['eu-1', 'us-1', 'ap-1'][i % 3],
        resource_id: `deployment-${i % 1000}`,
      },
    };
  });
}
