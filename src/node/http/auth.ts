/**
 * Who may talk to the gateway.
 * - With a token: every request carries it, as `Authorization: Bearer TOKEN`
 *   or as the `meshrun_token` cookie, which a browser gets by opening
 *   `/?token=TOKEN` once (HttpOnly, SameSite=Strict, so other sites' pages
 *   cannot use it).
 * - Without a token the gateway listens on loopback only, and answers only
 *   requests addressed to a loopback name, so a web page elsewhere cannot
 *   reach it through DNS rebinding.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import { isIP } from 'node:net'
import type { Context, MiddlewareHandler } from 'hono'
import { getCookie, setCookie } from 'hono/cookie'

export const TOKEN_COOKIE = 'meshrun_token'

export function isLoopback (host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase()
  if (h === 'localhost' || h.endsWith('.localhost') || h === '::1') return true
  return isIP(h) === 4 && h.startsWith('127.')
}

function sameToken (given: string, token: string): boolean {
  const digest = (s: string): Buffer => createHash('sha256').update(s).digest()
  return timingSafeEqual(digest(given), digest(token))
}

/** The Host header without its port. */
function hostName (c: Context): string {
  const h = c.req.header('host') ?? ''
  const m = /^(\[[^\]]*\]|[^:]*)/.exec(h)
  return m?.[1] ?? ''
}

export function auth (token: string | undefined): MiddlewareHandler {
  return async (c, next) => {
    if (token === undefined) {
      if (!isLoopback(hostName(c))) return c.json({ message: 'this gateway answers only requests addressed to a loopback name (127.0.0.1, localhost, [::1])' }, 403)
      await next()
      return
    }
    const query = c.req.query('token')
    if (query !== undefined && c.req.method === 'GET' && c.req.path === '/') {
      if (!sameToken(query, token)) return c.json({ message: 'wrong token' }, 401)
      setCookie(c, TOKEN_COOKIE, token, { httpOnly: true, sameSite: 'Strict', path: '/' })
      return c.redirect('/', 303)
    }
    const header = c.req.header('authorization')
    const bearer = header === undefined ? undefined : /^Bearer\s+(.+)$/i.exec(header.trim())?.[1]
    const given = bearer ?? getCookie(c, TOKEN_COOKIE)
    if (given === undefined) {
      c.header('WWW-Authenticate', 'Bearer realm="meshrun"')
      return c.json({ message: 'this gateway needs a token: send "Authorization: Bearer TOKEN" (a browser can open /?token=TOKEN once)' }, 401)
    }
    if (!sameToken(given, token)) {
      c.header('WWW-Authenticate', 'Bearer realm="meshrun", error="invalid_token"')
      return c.json({ message: 'wrong token' }, 401)
    }
    await next()
  }
}
