/**
 * Signing policies over real sockets: SDK (nitroEnclave, HTTP) → parent proxy → enclave server → runtime with its
 * file stores. The policy routes, and quorum approval stamps in their own header, pass the proxy unread; the
 * enclave decides. A restart of the runtime over the same data directory keeps the policy (its store is on disk)
 * and still refuses an old version.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { apiKeyStamper, approveRequest, createCustodyClient, generateApiKey, isCustodyError, nitroEnclave, type Stamper } from '@enclave-custody/sdk'
import { createLocalRuntime, type EnclaveServer, startEnclaveServer } from '@enclave-custody/enclave-runtime'
import { type ParentProxy, startParentProxy } from '@enclave-custody/parent-proxy'
import { afterAll, describe, expect, it } from 'vitest'

const TO = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8'
const tx = (value: bigint, nonce = 0n) => ({ chainId: 1n, nonce, to: TO, value, gas: 21_000n, maxFeePerGas: 2_000_000_000n, maxPriorityFeePerGas: 1n })
const newStamper = (): Stamper => apiKeyStamper({ privateKey: generateApiKey().privateKey })

const cleanup: (() => Promise<unknown>)[] = []
afterAll(async () => {
  for (const c of cleanup.reverse()) await c()
})

/** Runtime, enclave server and proxy over `dir`; returns a client factory. */
async function stack(dir: string) {
  const runtime = await createLocalRuntime({ dataDir: dir })
  const server: EnclaveServer = await startEnclaveServer({ handler: runtime.handler, port: 0 })
  const proxy: ParentProxy = await startParentProxy({ enclave: { host: '127.0.0.1', port: server.port } })
  const stop = async () => {
    await proxy.close()
    await server.close()
  }
  cleanup.push(stop)
  const transport = () => nitroEnclave({ url: proxy.url, attestation: runtime.attestation })
  return { stop, client: (stamper: Stamper, trustedCreators: string[] = []) => createCustodyClient({ transport: transport(), stamper, trustedCreators }) }
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p
    return 'resolved'
  } catch (e) {
    if (isCustodyError(e)) return e.code
    throw e
  }
}

describe('policies through the parent proxy', () => {
  it('set, get, quorum approvals in their header, and an old version refused after a restart', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'policy-http-'))
    cleanup.push(() => rm(dir, { recursive: true, force: true }))
    const [owner, cfo] = [newStamper(), newStamper()]
    const first = await stack(dir)
    const custody = first.client(owner)
    const { keyId } = await custody.importKey({ generate: true })
    const v1 = await custody.setSigningPolicy(keyId, { rules: [{ id: 'any', effect: 'allow' }] })
    const v2 = await custody.setSigningPolicy(keyId, {
      rules: [
        { id: 'small', effect: 'allow', when: { value: { lte: '1000' } } },
        { id: 'large', effect: 'allow', when: { value: { gt: '1000' } }, approvals: { from: [owner.publicKey, cfo.publicKey], threshold: 2 } },
      ],
    })
    expect((await custody.getSigningPolicy(keyId))?.digest).toBe(v2.digest)
    await expect(custody.signEip1559(keyId, tx(1000n))).resolves.toMatchObject({ hash: expect.any(String) })
    expect(await codeOf(custody.signEip1559(keyId, tx(5000n, 1n)))).toBe('POLICY_DENIED')
    // The CFO approves on another machine: the request travels as JSON, the stamp comes back.
    const request = await custody.approvalRequest.signEip1559(keyId, tx(5000n, 1n))
    const approval = await approveRequest(cfo, JSON.parse(JSON.stringify(request)))
    await expect(custody.signEip1559(keyId, tx(5000n, 1n), { approvals: [approval] })).resolves.toMatchObject({ hash: expect.any(String) })

    await first.stop()
    const second = await stack(dir)
    const again = second.client(owner)
    expect((await again.getKey(keyId)).signingPolicy).toEqual({ version: 2, digest: v2.digest })
    expect(await codeOf(again.setSigningPolicy(keyId, { document: v1.document, approvals: v1.approvals }))).toBe('INVALID_ARGUMENT')
    expect(await codeOf(again.signEip1559(keyId, tx(5000n, 2n)))).toBe('POLICY_DENIED')
  })
})
