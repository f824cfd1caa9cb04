/**
 * The SDK checks a signed transaction the cheap way (it builds the signed encoding from the request and the
 * reported signature, and recovers over its own digest) and falls back to the strict parser only for answers that
 * way does not accept. This pins that the real enclave's answers — every transaction type — take the cheap path, so
 * that the figures in docs/benchmarks.md hold; the equivalence of both checks is verifySignedTransaction.test.ts.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Address, apiKeyStamper, createCustodyClient, generateApiKey, normalizeTransactionRequest, type TransactionRequest } from '@enclave-custody/sdk'
import type { RequestMessage } from '@enclave-custody/sdk/protocol'
import { createLocalRuntime } from '@enclave-custody/enclave-runtime'
import { afterAll, expect, it } from 'vitest'
import { acceptAsBuilt, type SignedTransactionReport } from '../packages/sdk/src/transactions/verifySignedTransaction.js'

const TO = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8'
const AUTH = {
  chainId: 1,
  address: '0xFBA3912Ca04dd458c843e2EE08967fC04f3579c2',
  nonce: 420,
  yParity: 0,
  r: '0x8d7765afec6e09d93be91a1324f0dbbd6bcb96f4b37e8645a4c65d08a979ab69',
  s: '0x70b81c53368b35a58af8630903c57d2b106842f9a081e3dc607c0c0cd990c77d',
}
const REQUESTS: Record<string, TransactionRequest> = {
  legacy: { chainId: 1n, nonce: 3n, to: TO, value: 5n, gas: 21000n, gasPrice: 7n },
  eip2930: { type: 1, chainId: 10n, nonce: 3n, to: TO, value: 5n, gas: 21000n, gasPrice: 7n, accessList: [{ address: TO, storageKeys: [`0x${'01'.repeat(32)}`] }] },
  eip1559: { chainId: 8453n, nonce: 0n, to: TO, value: 10n ** 18n, gas: 21000n, maxFeePerGas: 30_000_000_000n, maxPriorityFeePerGas: 1_000_000_000n, data: '0xabcdef' },
  eip7702: { chainId: 1n, nonce: 3n, to: TO, value: 5n, gas: 60000n, maxFeePerGas: 100n, maxPriorityFeePerGas: 2n, authorizationList: [AUTH] },
}

let dir: string | undefined
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true })
})

it('the enclave\'s signed transactions of every type pass the cheap check', async () => {
  dir = await mkdtemp(join(tmpdir(), 'result-check-path-'))
  const runtime = await createLocalRuntime({ dataDir: dir })
  const answers: SignedTransactionReport[] = []
  const custody = createCustodyClient({
    stamper: apiKeyStamper({ privateKey: generateApiKey().privateKey }),
    transport: {
      name: 'capture',
      attestation: runtime.attestation,
      async request(message: RequestMessage) {
        const response = (await runtime.handler.handle(message)) as { ok: boolean; result?: unknown }
        if (message.op === 'sign.transaction' && response.ok) answers.push(response.result as SignedTransactionReport)
        return response
      },
    },
  })
  const { keyId, address } = await custody.importKey({ generate: true })
  for (const [type, request] of Object.entries(REQUESTS)) {
    const signed = await custody.signTransaction(keyId, request)
    expect(signed.type).toBe(type)
    const { transaction } = normalizeTransactionRequest(request, 'tx')
    const answer = answers.at(-1)!
    expect(acceptAsBuilt(transaction, answer, address as Address), type).toMatchObject({ from: address, hash: signed.hash })
  }
})
