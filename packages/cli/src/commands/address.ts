import type { Address, CustodyClient } from '@enclave-custody/sdk'
import { connect, keyIdSchema, PROXY_HELP, PROXY_USAGE, proxyOptions } from './connection.js'
import { defineCommand } from './defineCommand.js'

/** The Ethereum address of a custody key. */
export async function keyAddress(keyId: string, { client }: { client: CustodyClient }): Promise<Address> {
  return (await client.getKey(keyId)).address
}

export const addressCommand = defineCommand({
  name: 'address',
  summary: "print a key's address",
  usage: `custody address <keyId> ${PROXY_USAGE}`,
  description: `Prints the EIP-55 address of the key, as the enclave reports it.\n${PROXY_HELP}`,
  positionals: [{ name: 'keyId', help: 'the key', schema: keyIdSchema }],
  options: { ...proxyOptions },
  async run({ options: o, positionals: [keyId], io }) {
    const { client, close } = await connect({ proxy: o, io })
    try {
      io.stdout(`${await keyAddress(keyId as string, { client })}\n`)
      return 0
    } finally {
      await close()
    }
  },
})
