import { AUDIT_GENESIS, auditEventHash } from '@enclave-custody/sdk/protocol'
import { describe, expect, it } from 'vitest'
import { createSoftwareNsm } from '../attestation/softwareNsm.js'
import { createEnclaveIdentity } from '../identity/createEnclaveIdentity.js'
import { createAuditLog } from './createAuditLog.js'

describe('createAuditLog', () => {
  it('chains events from the boot event, hands each out once, and keeps the boot event and the recent ones for read', async () => {
    const identity = await createEnclaveIdentity({ attestation: await createSoftwareNsm({ pcrs: { 0: 'ab'.repeat(48) } }), trust: { protocolVersion: 1, sealing: 'local', sealingKeyId: `0x${'01'.repeat(32)}` } })
    const log = await createAuditLog({ identity, keep: 3 })
    for (let i = 0; i < 5; i++) log.record({ op: 'sign.message', outcome: 'ok', keyId: `k${i}` })
    const events = log.drain()
    expect(events.map((e) => e.seq)).toEqual([0, 1, 2, 3, 4, 5])
    expect(events[0]).toMatchObject({ op: 'boot', prev: AUDIT_GENESIS, responseKeyId: identity.responseKeyId })
    for (let i = 1; i < events.length; i++) expect(events[i]!.prev).toBe(auditEventHash(events[i - 1]!))
    expect(log.drain()).toEqual([])
    // A lost answer's events can be read again: the boot event always, the last `keep` others.
    expect(log.read(-1, 10).map((e) => e.seq)).toEqual([0, 3, 4, 5])
    expect(log.read(3, 10).map((e) => e.seq)).toEqual([4, 5])
    expect(log.read(-1, 2).map((e) => e.seq)).toEqual([0, 3])
    expect(log.read(-1, 10)[0]).toEqual(events[0])
  })
})
