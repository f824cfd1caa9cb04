import { CommandFailure } from './cliOptions.js'

/** One JSON-RPC call's deadline. */
const RPC_TIMEOUT_MS = 15_000

/** An Ethereum node's JSON-RPC endpoint (`--rpc-url`): the few calls `custody sign` needs. */
export type RpcNode = {
  url: string
  call<T = unknown>(method: string, params?: unknown[]): Promise<T>
}

/** Where the node is, for messages: the origin only (a provider URL may carry an API key in its path or query). */
export function nodeOrigin(url: string): string {
  try {
    return new URL(url).origin
  } catch {
    return 'the node'
  }
}

/**
 * A JSON-RPC client over `fetch`. Failures are CommandFailures naming the node's origin (never the full URL:
 * hosted providers put the API key in it) and the method.
 */
export function rpcNode(url: string, { fetch: doFetch = fetch }: { fetch?: typeof fetch } = {}): RpcNode {
  const origin = nodeOrigin(url)
  let id = 0
  return {
    url,
    async call<T>(method: string, params: unknown[] = []): Promise<T> {
      let response: Response
      try {
        response = await doFetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ jsonrpc: '2.0', id: ++id, method, params }),
          signal: AbortSignal.timeout(RPC_TIMEOUT_MS),
        })
      } catch (e) {
        const reason = (e as Error)?.name === 'TimeoutError' ? `no answer within ${RPC_TIMEOUT_MS / 1000} s` : 'connection failed'
        throw new CommandFailure(`cannot reach the node at ${origin} (--rpc-url): ${reason}`)
      }
      let body: { result?: unknown; error?: { code?: number; message?: string } }
      try {
        body = (await response.json()) as typeof body
      } catch {
        throw new CommandFailure(`the node at ${origin} answered ${method} with HTTP ${response.status} and no JSON-RPC body`)
      }
      if (body.error) {
        const message = typeof body.error.message === 'string' ? body.error.message.slice(0, 300) : 'error'
        throw new CommandFailure(`the node at ${origin} refused ${method}: ${message}`)
      }
      if (!('result' in body)) throw new CommandFailure(`the node at ${origin} answered ${method} without a result`)
      return body.result as T
    },
  }
}

/** A JSON-RPC quantity (`0x`-hex) as a bigint. */
export function quantity(value: unknown, what: string): bigint {
  if (typeof value !== 'string' || !/^0x[0-9a-fA-F]{1,64}$/.test(value)) throw new CommandFailure(`the node returned a malformed ${what}`)
  return BigInt(value)
}

/** A bigint as a JSON-RPC quantity. */
export const toQuantity = (n: bigint) => `0x${n.toString(16)}`

export type TransactionReceipt = { blockNumber: bigint; status: 'success' | 'reverted'; gasUsed: bigint }

/**
 * Poll `eth_getTransactionReceipt` until the transaction is mined.
 * @throws CommandFailure when it is not mined within `timeoutMs`
 */
export async function waitForReceipt(node: RpcNode, hash: string, { timeoutMs, pollMs = 500 }: { timeoutMs: number; pollMs?: number }): Promise<TransactionReceipt> {
  const end = Date.now() + timeoutMs
  for (;;) {
    const receipt = await node.call<{ blockNumber?: string; status?: string; gasUsed?: string } | null>('eth_getTransactionReceipt', [hash])
    if (receipt?.blockNumber) {
      return { blockNumber: quantity(receipt.blockNumber, 'block number'), status: receipt.status === '0x1' ? 'success' : 'reverted', gasUsed: quantity(receipt.gasUsed, 'gas used') }
    }
    if (Date.now() > end) throw new CommandFailure(`${hash} was sent but not mined within ${Math.round(timeoutMs / 1000)} s (it may still be; check it on the node)`)
    await new Promise((r) => setTimeout(r, pollMs))
  }
}
