import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import {
  ALIAS_PLACEHOLDER,
  importEndpoint,
  importSavedObjects,
  renderSavedObjects,
  savedObjectsTemplateFile,
} from '../../../deploy/kibana/import';
import { indexNames, usageMappings } from '../../../sinks/elasticsearch/indices';

/**
 * The Kibana kit (deploy/kibana) without a Kibana (none can run here): the saved objects parse and
 * carry what Kibana's import needs, the data view is the published alias and nothing wider, every
 * field a chart uses is in the usage mapping, and the import command sends Kibana's multipart
 * request (to a local HTTP server standing in for Kibana).
 */

const ROOT = path.resolve(__dirname, '../../..');
const PREFIX = 'acme-billing';
const ALIAS = indexNames(PREFIX).usageAlias;

type SavedObject = {
  type: string;
  id: string;
  attributes: Record<string, unknown>;
  references: { type: string; id: string; name: string }[];
  coreMigrationVersion?: string;
  typeMigrationVersion?: string;
};

const objects = (): SavedObject[] =>
  renderSavedObjects(PREFIX)
    .trimEnd()
    .split('\n')
    .map((line) => JSON.parse(line) as SavedObject);

const MAPPING = usageMappings().properties as Record<string, { type?: string }>;

/** Every `sourceField` of the Lens columns of an object. */
function lensFields(o: SavedObject): string[] {
  const state = o.attributes.state as {
    datasourceStates: {
      formBased: { layers: Record<string, { columns: Record<string, { sourceField?: string }> }> };
    };
  };
  return Object.values(state.datasourceStates.formBased.layers).flatMap((layer) =>
    Object.values(layer.columns).map((c) => c.sourceField as string),
  );
}

describe('Kibana saved objects', () => {
  it('parse as NDJSON, one object per line, each with what the import API needs', () => {
    const template = fs.readFileSync(savedObjectsTemplateFile(), 'utf8');
    expect(template.endsWith('\n')).toBe(true);
    const list = objects();
    expect(list.length).toBe(template.trimEnd().split('\n').length);
    const ids = new Set<string>();
    for (const o of list) {
      expect(typeof o.type).toBe('string');
      expect(o.id).toMatch(/^\S+$/);
      expect(ids.has(`${o.type}:${o.id}`)).toBe(false);
      ids.add(`${o.type}:${o.id}`);
      expect(typeof o.attributes.title).toBe('string');
      expect(Array.isArray(o.references)).toBe(true);
      expect(o.coreMigrationVersion).toMatch(/^\d+\.\d+\.\d+$/);
      expect(o.typeMigrationVersion).toMatch(/^\d+\.\d+\.\d+$/);
      // Nested JSON Kibana stores as text must itself parse.
      for (const key of ['panelsJSON', 'optionsJSON', 'runtimeFieldMap', 'fieldFormatMap'])
        if (key in o.attributes) JSON.parse(o.attributes[key] as string);
    }
    // Every reference resolves to an object of the file, of the type it says.
    for (const o of list) for (const r of o.references) expect(ids.has(`${r.type}:${r.id}`)).toBe(true);
    expect(list.map((o) => o.type).sort()).toEqual([
      'dashboard',
      'index-pattern',
      'lens',
      'lens',
      'lens',
      'lens',
      'lens',
    ]);
  });

  it('bind the data view to the published alias of the prefix, exactly, and leave no placeholder', () => {
    const rendered = renderSavedObjects(PREFIX);
    expect(rendered).not.toContain(ALIAS_PLACEHOLDER);
    const views = objects().filter((o) => o.type === 'index-pattern');
    expect(views).toHaveLength(1);
    expect(views[0].attributes.title).toBe(ALIAS);
    expect(views[0].attributes.title).toBe('acme-billing-usage');
    expect(views[0].attributes.timeFieldName).toBe('ChargePeriodStart');
    // Another prefix, another alias; the ids differ too, so both can live in one space.
    const other = renderSavedObjects('meterflow')
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as SavedObject);
    expect(other.find((o) => o.type === 'index-pattern')?.attributes.title).toBe('meterflow-usage');
    expect(other.map((o) => o.id)).not.toEqual(objects().map((o) => o.id));
  });

  it('use only fields of the usage mapping (or runtime fields of the data view built from them)', () => {
    const list = objects();
    const view = list.find((o) => o.type === 'index-pattern') as SavedObject;
    const runtime = JSON.parse(view.attributes.runtimeFieldMap as string) as Record<
      string,
      { type: string; script: { source: string } }
    >;
    for (const [name, field] of Object.entries(runtime)) {
      expect(MAPPING[name]).toBeUndefined();
      const used = [...field.script.source.matchAll(/doc\['([^']+)'\]/g)].map((m) => m[1]);
      expect(used.length).toBeGreaterThan(0);
      for (const f of used) expect(MAPPING[f]?.type).toBe('keyword');
    }
    expect(MAPPING[view.attributes.timeFieldName as string].type).toBe('date');
    const lens = list.filter((o) => o.type === 'lens');
    const fields = lens.flatMap(lensFields);
    expect(fields.length).toBeGreaterThan(0);
    for (const f of fields) expect(f in MAPPING || f in runtime).toBe(true);
    // Sums are over the numeric (double) mapping of the amounts, never over a keyword.
    for (const o of lens) {
      const state = o.attributes.state as {
        datasourceStates: {
          formBased: {
            layers: Record<
              string,
              { columns: Record<string, { operationType: string; sourceField: string }> }
            >;
          };
        };
      };
      for (const layer of Object.values(state.datasourceStates.formBased.layers))
        for (const c of Object.values(layer.columns))
          if (c.operationType === 'sum') expect(MAPPING[c.sourceField].type).toBe('double');
    }
    // The dashboard shows cost over time by service, region and customer, and the top tag keys.
    expect(fields).toEqual(expect.arrayContaining(['ServiceName', 'RegionId', 'x_CustomerId', 'x_TagKey']));
    // Each Lens object reads the data view through its layer reference.
    for (const o of lens)
      expect(o.references).toEqual([
        { type: 'index-pattern', id: view.id, name: 'indexpattern-datasource-layer-layer1' },
      ]);
    const dashboard = list.find((o) => o.type === 'dashboard') as SavedObject;
    const panels = JSON.parse(dashboard.attributes.panelsJSON as string) as {
      panelRefName: string;
      panelIndex: string;
    }[];
    expect(panels).toHaveLength(lens.length);
    expect(dashboard.references.map((r) => r.name).sort()).toEqual(
      panels.map((p) => `${p.panelIndex}:${p.panelRefName}`).sort(),
    );
  });
});

interface Received {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  file?: { name: string; type: string; text: string };
  fields: string[];
}

/** A stand-in for Kibana's import API: records the request, answers `answer`. */
async function fakeKibana(answer: { status: number; body: unknown }) {
  const received: Received[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const r: Received = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, fields: [] };
      // Parse the multipart body with the platform's own parser (undici, behind Response).
      const form = await new Response(Buffer.concat(chunks), {
        headers: { 'content-type': req.headers['content-type'] ?? '' },
      })
        .formData()
        .catch(() => undefined);
      if (form) {
        r.fields = [...form.keys()];
        const file = form.get('file');
        if (file && typeof file !== 'string')
          r.file = { name: file.name, type: file.type, text: await file.text() };
      }
      received.push(r);
      res.writeHead(answer.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(answer.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, received, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

describe('meterflow kibana import', () => {
  it('POSTs the rendered NDJSON as the multipart `file` field Kibana expects, with kbn-xsrf and the API key', async () => {
    const kibana = await fakeKibana({ status: 200, body: { success: true, successCount: 7, errors: [] } });
    try {
      const result = await importSavedObjects({
        url: `${kibana.url}/kibana/`,
        prefix: PREFIX,
        space: 'billing',
        apiKey: 'ZW5jb2RlZDprZXk=',
        overwrite: true,
      });
      expect(result.successCount).toBe(7);
      expect(kibana.received).toHaveLength(1);
      const r = kibana.received[0];
      expect(r.method).toBe('POST');
      expect(r.url).toBe('/kibana/s/billing/api/saved_objects/_import?overwrite=true');
      expect(r.headers['kbn-xsrf']).toBeDefined();
      expect(r.headers.authorization).toBe('ApiKey ZW5jb2RlZDprZXk=');
      expect(r.headers['content-type']).toMatch(/^multipart\/form-data; boundary=/);
      expect(r.fields).toEqual(['file']);
      expect(r.file?.name).toMatch(/\.ndjson$/);
      expect(r.file?.text).toBe(renderSavedObjects(PREFIX));
    } finally {
      await kibana.close();
    }
  });

  it('names every object Kibana refused, and the status of an HTTP error', async () => {
    const refused = await fakeKibana({
      status: 200,
      body: {
        success: false,
        successCount: 6,
        errors: [{ id: 'meterflow-data-view-x', type: 'index-pattern', error: { type: 'conflict' } }],
      },
    });
    try {
      await expect(
        importSavedObjects({ url: refused.url, prefix: PREFIX, overwrite: false }),
      ).rejects.toThrow(
        'Kibana imported 6 objects and refused others: index-pattern meterflow-data-view-x: conflict',
      );
      expect(refused.received[0].url).toBe('/api/saved_objects/_import');
      expect(refused.received[0].headers.authorization).toBeUndefined();
    } finally {
      await refused.close();
    }
    const denied = await fakeKibana({ status: 401, body: { message: 'unauthorized' } });
    try {
      await expect(
        importSavedObjects({
          url: denied.url,
          prefix: PREFIX,
          username: 'elastic',
          password: 'pw',
          overwrite: true,
        }),
      ).rejects.toThrow(/Kibana answered 401/);
      expect(denied.received[0].headers.authorization).toBe(
        `Basic ${Buffer.from('elastic:pw').toString('base64')}`,
      );
    } finally {
      await denied.close();
    }
  });

  it('refuses credentials in the URL, over plain http to a remote host, and a bad space', () => {
    expect(() => importEndpoint('http://u:p@kibana:5601', undefined, true)).toThrow(
      /must not carry credentials/,
    );
    expect(() => importEndpoint('ftp://kibana', undefined, true)).toThrow(/http or https/);
    expect(() => importEndpoint('https://kibana', 'Bad Space', true)).toThrow(/space/);
    return expect(
      importSavedObjects({
        url: 'http://kibana.internal:5601',
        prefix: PREFIX,
        apiKey: 'k',
        overwrite: true,
      }),
    ).rejects.toThrow(/credentials over plain http/);
  });

  it('is a meterflow subcommand: the CLI sends the objects of the configured prefix', async () => {
    const kibana = await fakeKibana({ status: 200, body: { success: true, successCount: 7, errors: [] } });
    try {
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', path.join(ROOT, 'cli/main.ts'), 'kibana', 'import', '--url', kibana.url],
        {
          cwd: ROOT,
          stdio: ['ignore', 'ignore', 'pipe'],
          env: {
            ...process.env,
            METERFLOW_ELASTICSEARCH__INDEX_PREFIX: 'cli-prefix',
            KIBANA_API_KEY: 'a2V5',
          },
        },
      );
      let stderr = '';
      child.stderr.on('data', (c: Buffer) => (stderr += String(c)));
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
      expect({ code, stderr }).toEqual({
        code: 0,
        stderr: expect.stringContaining('imported 7 saved objects'),
      });
      const r = kibana.received[0];
      expect(r.headers.authorization).toBe('ApiKey a2V5');
      expect(r.file?.text).toBe(renderSavedObjects('cli-prefix'));
      expect(r.file?.text).toContain('"title":"cli-prefix-usage"');
    } finally {
      await kibana.close();
    }
  }, 60_000);
});
