import type { CustodyClient, KeyInfo } from '@enclave-custody/sdk'
import { z } from 'zod'
import { connect, PROXY_HELP, PROXY_USAGE, proxyOptions } from './connection.js'
import { defineCommand } from './defineCommand.js'
import { keyJson } from './keyCommands.js'

/** Every key the enclave deployment serves. */
export function listKeys({ client }: { client: CustodyClient }): Promise<KeyInfo[]> {
  return client.listKeys()
}

/**
 * One line per key: keyId, address, creation time, under a header; each column as wide as its longest
 * cell (ids and addresses vary in length: Bitcoin and Solana addresses are not 42 characters).
 */
export function formatKeyTable(keys: readonly KeyInfo[]): string {
  const rows = [['KEY ID', 'ADDRESS', 'CREATED'], ...keys.map((k) => [k.keyId, String(k.address), k.createdAt.toISOString()])]
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)))
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ')).join('\n') + '\n'
}

export const listCommand = defineCommand({
  name: 'list',
  summary: 'list keys',
  usage: `custody list [--json] ${PROXY_USAGE}`,
  description: `Lists the keys with their addresses, as the enclave reports them.\n${PROXY_HELP}`,
  options: {
    json: { flag: 'json', boolean: true, help: 'print a JSON array', schema: z.boolean().default(false) },
    ...proxyOptions,
  },
  async run({ options: o, io }) {
    const { client, close } = await connect({ proxy: o, io })
    try {
      const keys = await listKeys({ client })
      if (o.json) io.stdout(`${JSON.stringify(keys.map(keyJson))}\n`)
      else if (keys.length === 0) io.stderr('no keys\n')
      else io.stdout(formatKeyTable(keys))
      return 0
    } finally {
      await close()
    }
  },
})
