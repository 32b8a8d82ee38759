import fs from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';

/**
 * The analyst console at /console: a static page (api/console/*) and uPlot, read from
 * node_modules once when the API is built. The page holds no data and no key: it asks the user for
 * an API key and calls the public /v1 routes with it, in the Authorization header.
 *
 * CSP: scripts, styles and fetches from this origin only, nothing inline, no frames, no forms
 * posted anywhere; so a value that slipped past the page's escaping still could not run.
 */
const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

interface Asset {
  type: string;
  body: Buffer;
}

/**
 * The folder of the page's own files: next to this module when run from the sources (tsx, jest),
 * and in the package's api/console when run from dist/ (tsc copies no .html/.js/.css).
 */
function consoleDir(): string {
  const candidates = [path.join(__dirname, 'console'), path.resolve(__dirname, '../../api/console')];
  const found = candidates.find((dir) => fs.existsSync(path.join(dir, 'index.html')));
  if (!found) throw new Error(`console assets not found (looked in ${candidates.join(', ')})`);
  return found;
}

function loadAssets(): Map<string, Asset> {
  const dir = consoleDir();
  const own = (file: string, type: string): Asset => ({ type, body: fs.readFileSync(path.join(dir, file)) });
  const vendor = (file: string, type: string): Asset => ({
    type,
    body: fs.readFileSync(require.resolve(`uplot/dist/${file}`)),
  });
  return new Map([
    ['/console', own('index.html', 'text/html; charset=utf-8')],
    ['/console/console.js', own('console.js', 'text/javascript; charset=utf-8')],
    ['/console/console.css', own('console.css', 'text/css; charset=utf-8')],
    ['/console/uplot.js', vendor('uPlot.iife.min.js', 'text/javascript; charset=utf-8')],
    ['/console/uplot.css', vendor('uPlot.min.css', 'text/css; charset=utf-8')],
  ]);
}

export function registerConsole(app: FastifyInstance): void {
  const assets = loadAssets();
  for (const [url, asset] of assets) {
    // Static files, not API operations: hidden from the OpenAPI document, like Swagger UI's.
    app.get(url, { schema: { hide: true } }, async (_req, reply) =>
      reply
        .type(asset.type)
        .header('content-security-policy', CONSOLE_CSP)
        .header('referrer-policy', 'no-referrer')
        .send(asset.body),
    );
  }
}
