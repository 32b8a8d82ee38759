import { exportedMetricNames, metricNamesOf } from '../../support/promql';

describe('metric names in PromQL and on /metrics', () => {
  it('finds selector names, not functions, aggregations, labels, values or durations', () => {
    expect(
      metricNamesOf(
        'sum by (component) ((increase(a_total{component=~"sink.*"}[30m]) > 0) or (a_total unless b offset 30m)) > 0' +
          ' and on (job) time() - c_seconds > 2 * 3600 and {__name__="d_name", job="x"}' +
          ' and histogram_quantile(0.9, sum by (le) (rate(e_seconds_bucket[5m])))',
      ),
    ).toEqual(['a_total', 'b', 'c_seconds', 'd_name', 'e_seconds_bucket']);
  });

  it('refuses an expression that does not parse', () => {
    expect(() => metricNamesOf('sum by (component (a_total)')).toThrow(/does not parse/);
  });

  it('reads declared families (with histogram series) and samples from the text format', () => {
    const page = [
      '# HELP x_total Things',
      '# TYPE x_total counter',
      '# HELP y_seconds Durations',
      '# TYPE y_seconds histogram',
      'y_seconds_bucket{le="0.1"} 1',
      'z_gauge 3',
      '',
    ].join('\n');
    expect([...exportedMetricNames(page)].sort()).toEqual([
      'x_total',
      'y_seconds',
      'y_seconds_bucket',
      'y_seconds_count',
      'y_seconds_sum',
      'z_gauge',
    ]);
  });
});
