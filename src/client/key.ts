/** The cluster key a command was given (--key FILE or $MESHRUN_KEY_FILE), loaded. */
import { keyFileFrom, loadClusterKey } from '../node/cluster-key.ts'

export async function pskFrom (flag: string | undefined): Promise<{ psk?: Uint8Array }> {
  const file = keyFileFrom(flag)
  return file === undefined ? {} : { psk: await loadClusterKey(file) }
}
