import type { Address, CustodyClient } from '@enclave-custody/sdk'
import { z } from 'zod'
import { connect, keyIdSchema, PROXY_HELP, PROXY_USAGE, proxyOptions } from './connection.js'
import { defineCommand } from './defineCommand.js'
import { keyJson } from './keyCommands.js'

/** The Ethereum address of a custody key. */
export async function keyAddress(keyId: string, { client }: { client: CustodyClient }): Promise<Address> {
  return (await client.getKey(keyId)).address
}

export const addressCommand = defineCommand({
  name: 'address',
  summary: "print a key's address",
  usage: `custody address <keyId> [--json] ${PROXY_USAGE}`,
  description: `Prints the address of the key (EIP-55 for Ethereum keys), as the enclave reports it; with --json, one\nobject { keyId, address, kind, curve, createdAt, policy, … } as \`custody list --json\` prints each key.\n${PROXY_HELP}`,
  positionals: [{ name: 'keyId', help: 'the key', schema: keyIdSchema }],
  options: {
    json: { flag: 'json', boolean: true, help: 'print the key as one JSON object (keyId, address, kind, curve, createdAt, policy, …)', schema: z.boolean().default(false) },
    ...proxyOptions,
  },
  async run({ options: o, positionals: [keyId], io }) {
    const { client, close } = await connect({ proxy: o, io })
    try {
      if (o.json) io.stdout(`${JSON.stringify(keyJson(await client.getKey(keyId as string)))}\n`)
      else io.stdout(`${await keyAddress(keyId as string, { client })}\n`)
      return 0
    } finally {
      await close()
    }
  },
})
