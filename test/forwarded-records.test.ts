import {
  type AttestationPolicy,
  apiKeyStamper,
  attestEnclave,
  canonicalApiKey,
  createCustodyClient,
  generateApiKey,
  isCustodyError,
  type KmsImporter,
  nitroEnclave,
  type SealedKeyRecord,
  stampRequest,
} from '@enclave-custody/sdk'
import { MAX_LISTED_RECORDS, PROTOCOL_VERSION, RESPONSE_SIGNATURE_HEADER, STAMP_HEADER } from '@enclave-custody/sdk/protocol'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  createEnclaveSession,
  createForwardedKeyStore,
  createLocalSealer,
  createRequestHandler,
  createSoftwareNsm,
  type EnclaveServer,
  type Sealer,
  startEnclaveServer,
  type UnsealContext,
} from '@enclave-custody/enclave-runtime'
import { type ParentProxy, type RecordSource, startParentProxy } from '@enclave-custody/parent-proxy'

// The production shape without AWS: the enclave keeps no records; the parent holds them (here in a
// Map standing in for Secrets Manager) and forwards the named one with each request.
const records = new Map<string, SealedKeyRecord>()
const source: RecordSource = {
  get: async (keyId) => records.get(keyId),
  list: async () => [...records.values()],
}
const importer: KmsImporter = {
  secretName: (k) => k,
  policySecretName: (k) => k,
  storeSigningPolicy: async () => {
    throw new Error('not used')
  },
  readSigningPolicy: async () => undefined,
  storeRecord: async (r) => {
    records.set(r.keyId, r)
  },
  importPrivateKey: async () => {
    throw new Error('not used')
  },
}
const contexts: (UnsealContext | undefined)[] = []
/** The operations that reached the enclave's handler. */
const reached: string[] = []
const CREDS = { accessKeyId: 'AKIAINSTANCE00000001', secretAccessKey: 'instance-secret' }
// One caller: every client of this file stamps with the same API key.
const stamper = apiKeyStamper({ privateKey: generateApiKey().privateKey })

let server: EnclaveServer
let proxy: ParentProxy
let attestation: AttestationPolicy
const client = (withImporter: boolean) =>
  createCustodyClient({ transport: nitroEnclave({ url: proxy.url, attestation }), stamper, ...(withImporter ? { importer } : {}) })

beforeAll(async () => {
  const inner = createLocalSealer(new Uint8Array(32).fill(9))
  const sealer: Sealer = {
    kind: inner.kind,
    seal: (keyId, pk, ctx, ...bound) => {
      contexts.push(ctx)
      return inner.seal!(keyId, pk, ctx, ...bound)
    },
    unseal: (record, ctx) => {
      contexts.push(ctx)
      return inner.unseal(record, ctx)
    },
  }
  const nsm = await createSoftwareNsm()
  attestation = { pcr0: [nsm.pcrs[0]!], roots: [nsm.rootCertificatePem] }
  const session = await createEnclaveSession({ attestation: nsm, trust: { protocolVersion: 1, sealing: 'local', sealingKeyId: `0x${'09'.repeat(32)}` } })
  const handler = createRequestHandler({ keyStore: createForwardedKeyStore(), sealer, session })
  server = await startEnclaveServer({
    handler: {
      handle: (message, context) => {
        reached.push(String((message as { op?: unknown }).op))
        return handler.handle(message, context)
      },
    },
    port: 0,
  })
  proxy = await startParentProxy({ enclave: { host: '127.0.0.1', port: server.port }, records: source, credentials: async () => CREDS })
})
afterAll(async () => {
  await proxy?.close()
  await server?.close()
})

describe('records kept by the parent', () => {
  it('generate returns the record, the client stores it, get/list/sign use it', async () => {
    const custody = client(true)
    const key = await custody.importKey({ generate: true, keyId: 'gen-1' })
    expect(records.get('gen-1')).toMatchObject({ keyId: 'gen-1', address: key.address, sealing: 'local-aes-gcm' })
    expect(await custody.getKey('gen-1')).toEqual(key)
    expect((await custody.listKeys()).map((k) => k.keyId)).toEqual(['gen-1'])
    const signed = await custody.signEip1559('gen-1', { chainId: 1, nonce: 0, gas: 21000, maxFeePerGas: 1, maxPriorityFeePerGas: 1 })
    expect(signed.from).toBe(key.address)
    // The enclave got the instance credentials with every call and the record with the sign call.
    expect(contexts.at(-1)).toEqual({ credentials: CREDS, record: records.get('gen-1') })
  })

  it("forwards the caller's own records for key.list: 100+ records of another owner do not crowd them out", async () => {
    const c = client(true)
    const mine = await c.importKey({ generate: true, keyId: 'zz-list-mine' })
    const own = records.get(mine.keyId)!
    const other = canonicalApiKey(generateApiKey().publicKey, 'other')
    // Another tenant's records, listed first by the record source (as a store sorted by key id would).
    const theirs = Array.from({ length: MAX_LISTED_RECORDS + 5 }, (_, i) => ({ ...own, keyId: `aa-list-other-${i}`, owners: { publicKeys: [other], threshold: 1 } }) as SealedKeyRecord)
    const saved = [...records.entries()]
    records.clear()
    for (const r of [...theirs, ...saved.map(([, r]) => r)]) records.set(r.keyId, r)
    try {
      expect((await c.listKeys()).map((k) => k.keyId)).toContain(mine.keyId)
      const forwarded = contexts.at(-1)?.records ?? []
      expect(forwarded.map((r) => r.keyId)).toContain(mine.keyId)
      expect(forwarded.some((r) => r.keyId.startsWith('aa-list-other-'))).toBe(false)
    } finally {
      for (const r of theirs) records.delete(r.keyId)
    }
  })

  it('refuses to generate without an importer to store the record', async () => {
    const custody = client(false)
    const error = await custody.importKey({ generate: true }).catch((e: unknown) => e)
    expect(isCustodyError(error, 'INVALID_ARGUMENT')).toBe(true)
    expect((error as Error).message).toBe('"importer" is required to store keys created by an attested enclave')
  })

  it('refuses plaintext import into an enclave that keeps no records', async () => {
    const custody = client(false)
    const error = await custody.importKey({ privateKey: `0x${'22'.repeat(32)}` }).catch((e: unknown) => e)
    expect(isCustodyError(error, 'INVALID_ARGUMENT')).toBe(true)
  })

  it('answers KEY_NOT_FOUND for a key without a record: the enclave says so (signed), nothing is unsealed', async () => {
    const custody = client(false)
    await custody.listKeys() // attested: what follows is about the missing record only
    const before = contexts.length
    const reachedBefore = reached.length
    expect(isCustodyError(await custody.getKey('missing').catch((e: unknown) => e), 'KEY_NOT_FOUND')).toBe(true)
    // Over HTTP too: a stamped sign request for a key without a record is a 404 the enclave signed.
    const { aud } = await attestEnclave((m) => nitroEnclave({ url: proxy.url, attestation }).request(m), attestation)
    const params = { keyId: 'missing', tx: { chainId: '1', nonce: '0', gas: '21000', maxFeePerGas: '1', maxPriorityFeePerGas: '1' } }
    const auth = await stampRequest({ stamper, v: PROTOCOL_VERSION, op: 'sign.eip1559', params, aud })
    const res = await fetch(`${proxy.url}/v1/keys/missing/sign`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', [STAMP_HEADER]: JSON.stringify(auth) },
      body: JSON.stringify({ tx: params.tx }),
    })
    expect(res.status).toBe(404)
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('KEY_NOT_FOUND')
    expect(res.headers.has(RESPONSE_SIGNATURE_HEADER)).toBe(true)
    expect(reached.slice(reachedBefore).filter((op) => op !== 'system.attestation')).toEqual(['key.get', 'sign.eip1559'])
    expect(contexts.length).toBe(before) // nothing was unsealed
  })

  it('refuses a record the parent swapped in for another keyId', async () => {
    const custody = client(true)
    await custody.importKey({ generate: true, keyId: 'gen-2' })
    // A hostile parent serves gen-2's sealed bytes under gen-1's record: sealing is bound to the keyId.
    records.set('gen-1', { ...records.get('gen-1')!, ciphertext: records.get('gen-2')!.ciphertext })
    const error = await custody.signEip1559('gen-1', { chainId: 1, nonce: 0, gas: 21000, maxFeePerGas: 1, maxPriorityFeePerGas: 1 }).catch((e: unknown) => e)
    expect(isCustodyError(error, 'INTEGRITY_ERROR')).toBe(true)
  })
})
