/**
 * A FIFO pool of reusable things (job slots, sandbox identities): `acquire`
 * waits for a free one and can be aborted; `release` hands it to the longest
 * waiter. No module state: each executor has its own pools.
 */
import { JobCancelledError } from './errors.ts'

interface Waiter<T> {
  resolve: (item: T) => void
  reject: (err: Error) => void
}

export class Pool<T> {
  private readonly free: T[]
  private readonly waiters: Array<Waiter<T>> = []

  constructor (items: Iterable<T>) {
    this.free = [...items]
  }

  get available (): number { return this.free.length }
  get waiting (): number { return this.waiters.length }

  acquire (signal?: AbortSignal): Promise<T> {
    if (signal?.aborted === true) return Promise.reject(new JobCancelledError())
    const item = this.free.shift()
    if (item !== undefined) return Promise.resolve(item)
    return new Promise<T>((resolve, reject) => {
      const waiter: Waiter<T> = {
        resolve: (it) => { signal?.removeEventListener('abort', onAbort); resolve(it) },
        reject: (err) => { signal?.removeEventListener('abort', onAbort); reject(err) },
      }
      const onAbort = (): void => {
        const i = this.waiters.indexOf(waiter)
        if (i >= 0) this.waiters.splice(i, 1)
        reject(new JobCancelledError())
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      this.waiters.push(waiter)
    })
  }

  release (item: T): void {
    const w = this.waiters.shift()
    if (w !== undefined) w.resolve(item)
    else this.free.push(item)
  }

  /** Fails every waiter (on stop). */
  rejectAll (err: Error): void {
    for (const w of this.waiters.splice(0)) w.reject(err)
  }
}
