/**
 * The web page: plain HTML, CSS and JS modules from src/client/web, and uPlot
 * served from its installed package (node_modules), never copied into the repo.
 * Only files that exist there with a known type are served.
 */
import { readFile } from 'node:fs/promises'
import { existsSync, readdirSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Hono } from 'hono'

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
}

/** src/client/web beside the sources (a checkout), or in the package root (an install from dist/). */
function webDir (): string {
  const here = dirname(fileURLToPath(import.meta.url))
  const candidates = [join(here, '..', '..', 'client', 'web'), join(here, '..', '..', '..', 'src', 'client', 'web')]
  return candidates.find((d) => existsSync(join(d, 'index.html'))) ?? candidates[0]!
}

function uplotDir (): string {
  return join(dirname(createRequire(import.meta.url).resolve('uplot/package.json')), 'dist')
}

const typeOf = (name: string): string | undefined => TYPES[name.slice(name.lastIndexOf('.'))]

export function assetRoutes (): Hono {
  const app = new Hono()
  const web = webDir()
  const files = new Map<string, string>()
  for (const name of existsSync(web) ? readdirSync(web) : []) {
    if (/^[a-z0-9-]+\.[a-z]+$/.test(name) && typeOf(name) !== undefined) files.set(name, join(web, name))
  }
  const vendor = new Map([['uPlot.esm.js', join(uplotDir(), 'uPlot.esm.js')], ['uPlot.min.css', join(uplotDir(), 'uPlot.min.css')]])

  const send = async (path: string | undefined, cache: string): Promise<Response> => {
    if (path === undefined) return Response.json({ message: 'not found' }, { status: 404 })
    const body = await readFile(path)
    return new Response(body, { headers: { 'content-type': typeOf(path) ?? 'application/octet-stream', 'cache-control': cache } })
  }
  app.get('/', async () => await send(files.get('index.html'), 'no-cache'))
  app.get('/ui/:file', async (c) => await send(files.get(c.req.param('file')), 'no-cache'))
  app.get('/vendor/:file', async (c) => await send(vendor.get(c.req.param('file')), 'max-age=3600'))
  return app
}
