import { canonicalKeyPolicyJson, keyEncryptionContext, normalizeKeyPolicy } from '@enclave-custody/sdk'
import { recoverAuthorizationAddress } from 'viem/utils'
import { describe, expect, it } from 'vitest'
import { createStampedRuntime } from './support/runtime.js'

/**
 * An EIP-7702 authorization with chainId 0 delegates the account's code on every chain: the same replay
 * class as a legacy transaction without chainId. The request's `allowAnyChain` says the caller means it;
 * only the key's sealed policy (`allowAnyChainAuthorization`) says the key may do it.
 */
const DELEGATE = '0xFBA3912Ca04dd458c843e2EE08967fC04f3579c2'
const anyChain = { chainId: '0', address: DELEGATE, nonce: '0', allowAnyChain: true }

/** A local runtime with one key, and its caller (every request stamped by one API key). */
async function keyWith(policy?: Record<string, boolean>) {
  const { handler } = await createStampedRuntime()
  const imported = (await handler.handle({
    v: 1,
    id: 'i',
    op: 'key.import',
    params: { keyId: 'k', privateKey: '0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318', ...(policy ? { policy } : {}) },
  })) as { ok: true; result: { address: string; policy?: unknown } }
  return { handler, imported }
}

describe('chainId-0 EIP-7702 authorizations need the key\'s sealed policy', () => {
  it('a key without allowAnyChainAuthorization refuses, even when the request opts in', async () => {
    const { handler } = await keyWith()
    const r = await handler.handle({ v: 1, id: 'a', op: 'sign.authorization', params: { keyId: 'k', authorization: anyChain } })
    expect(r).toMatchObject({ ok: false, error: { code: 'POLICY_DENIED' } })
    expect((r as { error: { message: string } }).error.message).toContain('allowAnyChainAuthorization')
  })

  it('other sealed flags do not imply it', async () => {
    const { handler } = await keyWith({ allowRawDigest: true, allowReplayableLegacy: true })
    expect(await handler.handle({ v: 1, id: 'a', op: 'sign.authorization', params: { keyId: 'k', authorization: anyChain } })).toMatchObject({ ok: false, error: { code: 'POLICY_DENIED' } })
  })

  it('a key sealed with allowAnyChainAuthorization signs it, and the request must still opt in', async () => {
    const { handler, imported } = await keyWith({ allowAnyChainAuthorization: true })
    expect(imported.result.policy).toEqual({ allowRawDigest: false, allowReplayableLegacy: false, allowAnyChainAuthorization: true, allowUnprovenBitcoinAmounts: false, allowBitcoinSighashTypes: false })
    const r = (await handler.handle({ v: 1, id: 'a', op: 'sign.authorization', params: { keyId: 'k', authorization: anyChain } })) as {
      ok: true
      result: { chainId: string; address: `0x${string}`; nonce: string; r: `0x${string}`; s: `0x${string}`; yParity: 0 | 1 }
    }
    expect(r.ok).toBe(true)
    const recovered = await recoverAuthorizationAddress({ authorization: { chainId: 0, address: r.result.address, nonce: 0, r: r.result.r, s: r.result.s, yParity: r.result.yParity } })
    expect(recovered).toBe(imported.result.address)
    const { allowAnyChain: _, ...withoutOptIn } = anyChain
    expect(await handler.handle({ v: 1, id: 'b', op: 'sign.authorization', params: { keyId: 'k', authorization: withoutOptIn } })).toMatchObject({ ok: false, error: { code: 'INVALID_ARGUMENT' } })
  })

  it('chain-specific authorizations need no flag', async () => {
    const { handler } = await keyWith()
    expect(await handler.handle({ v: 1, id: 'a', op: 'sign.authorization', params: { keyId: 'k', authorization: { chainId: '1', address: DELEGATE, nonce: '0' } } })).toMatchObject({ ok: true })
  })

  it('the flag enters the canonical policy only when true, so existing policies keep their hash', () => {
    expect(canonicalKeyPolicyJson(normalizeKeyPolicy({ allowRawDigest: true }))).toBe('{"allowRawDigest":true,"allowReplayableLegacy":false}')
    expect(canonicalKeyPolicyJson(normalizeKeyPolicy({ allowRawDigest: true, allowAnyChainAuthorization: false }))).toBe('{"allowRawDigest":true,"allowReplayableLegacy":false}')
    expect(canonicalKeyPolicyJson(normalizeKeyPolicy({ allowAnyChainAuthorization: true }))).toBe('{"allowAnyChainAuthorization":true,"allowRawDigest":false,"allowReplayableLegacy":false}')
    // Values sealed by the code before the flag (see the sealed-before-7702-policy fixture).
    expect(keyEncryptionContext('raw-digest', normalizeKeyPolicy({ allowRawDigest: true }))).toEqual({
      keyId: 'raw-digest',
      policy: 'b611fed2d2bce40f233a57937f54f8cd337817b7f5b85bca23e329753214421f',
    })
    expect(keyEncryptionContext('k', normalizeKeyPolicy({}))).toEqual({ keyId: 'k' })
    expect(keyEncryptionContext('k', normalizeKeyPolicy({ allowAnyChainAuthorization: true })).policy).toMatch(/^[0-9a-f]{64}$/)
  })
})
