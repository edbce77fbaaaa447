export class UsageError extends Error {
  override name = 'UsageError'
}

export function describeError (err: unknown): string {
  if (err instanceof Error) return err.message
  return String(err)
}
