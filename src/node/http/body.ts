/**
 * Request bodies: JSON whatever the Content-Type says (some Piston clients
 * send none, or text/plain), within the gateway's size limit.
 */
import type { Context, MiddlewareHandler } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import { HttpError } from './types.ts'

export function limitBody (maxSize: number): MiddlewareHandler {
  return bodyLimit({
    maxSize,
    onError: (c) => c.json({ message: `the request body is larger than the limit of ${maxSize} bytes` }, 413),
  })
}

export async function readJson (c: Context): Promise<unknown> {
  const text = await c.req.text()
  if (text.trim() === '') throw new HttpError(400, 'the request has no body: send a JSON object')
  try {
    return JSON.parse(text)
  } catch (err) {
    throw new HttpError(400, `the request body is not valid JSON: ${(err as Error).message}`)
  }
}
