import type { ListedObject } from '../../../../collectors/core/discovery';
import { discoverAzureLegacyExports } from '../../../../providers/azure/discovery';
import { readFixtureJson } from '../../../support/fixtures';

const T = (minutes: number) => new Date(Date.UTC(2023, 0, 5, 0, minutes));

function bucket(entries: Array<[string, unknown, Date?]>) {
  const objects: ListedObject[] = entries.map(([key, body, at]) => ({
    key,
    lastModified: at ?? T(0),
    size: JSON.stringify(body).length,
  }));
  const json = new Map(entries.map(([key, body]) => [key, body]));
  return { objects, readJson: async (key: string) => json.get(key) };
}

describe('discoverAzureLegacyExports', () => {
  const realManifest = readFixtureJson<{ blobs: Array<{ blobName: string }> }>(
    'azure',
    'manifests',
    'koku_legacy_partitioned__manifest.json',
  );

  it('partitioned layout: the newest run folder is current, its _manifest.json lists the files', async () => {
    const month = 'cost/partitioned/20230101-20230131';
    const newFile = realManifest.blobs[0].blobName as string; // .../202301041442/<guid>/000001.csv
    const b = bucket([
      [`${month}/202301031442/11111111-aaaa/000001.csv`, 'x'],
      [
        `${month}/202301031442/11111111-aaaa/_manifest.json`,
        {
          ...realManifest,
          dataRowCount: 5,
          blobs: [{ blobName: `${month}/202301031442/11111111-aaaa/000001.csv` }],
        },
      ],
      [newFile, 'x'],
      [`${month}/202301041442/73746dc5-5dcc-4b83-b340-bb1bd2b1ca30/_manifest.json`, realManifest],
    ]);
    const [rev, ...rest] = await discoverAzureLegacyExports({ bucket: 'costs', prefix: 'cost', ...b });
    expect(rest).toEqual([]);
    expect(rev).toMatchObject({
      provider: 'azure',
      format: 'azure-actual',
      scope: 'azure/costs/partitioned/2023-01',
      revision_id: '202301041442/73746dc5-5dcc-4b83-b340-bb1bd2b1ca30',
      billing_period: '2023-01',
      files: [newFile],
      expected_rows: 490,
      missing_files: [],
    });
  });

  it('non-partitioned layout: the newest CSV of the month folder is current; the dataset follows the export name', async () => {
    const b = bucket([
      ['exports/daily-amortized/20230101-20230131/daily-amortized_aaa.csv', 'x', T(0)],
      ['exports/daily-amortized/20230101-20230131/daily-amortized_bbb.csv', 'x', T(30)],
      ['exports/daily-amortized/20230201-20230228/daily-amortized_ccc.csv', 'x', T(10)],
    ]);
    const revs = await discoverAzureLegacyExports({ bucket: 'costs', prefix: 'exports', ...b });
    expect(revs.map((r) => [r.scope, r.format, r.files])).toEqual([
      [
        'azure/costs/daily-amortized/2023-01',
        'azure-amortized',
        ['exports/daily-amortized/20230101-20230131/daily-amortized_bbb.csv'],
      ],
      [
        'azure/costs/daily-amortized/2023-02',
        'azure-amortized',
        ['exports/daily-amortized/20230201-20230228/daily-amortized_ccc.csv'],
      ],
    ]);
    expect(revs[0].revision_id).toBe(`daily-amortized_bbb.csv@${T(30).toISOString()}`);
  });

  it('ignores exports v2 run folders (their parts sit below a run folder with manifest.json)', async () => {
    const b = bucket([
      ['exports/actual/20261101-20261130/run-1/part_0_0001.csv.gz', 'x'],
      ['exports/actual/20261101-20261130/run-1/manifest.json', {}],
    ]);
    expect(await discoverAzureLegacyExports({ bucket: 'costs', prefix: 'exports', ...b })).toEqual([]);
  });
});
