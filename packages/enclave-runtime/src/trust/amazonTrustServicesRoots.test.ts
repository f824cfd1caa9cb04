import { createHash, X509Certificate } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { AMAZON_TRUST_SERVICES_ROOTS } from './amazonTrustServicesRoots.js'

// SHA-256 of each root's SubjectPublicKeyInfo as Amazon Trust Services publishes them
// (https://www.amazontrust.com/repository/, "Root CAs").
const PUBLISHED_SPKI_SHA256: Record<string, string> = {
  'Amazon Root CA 1': 'fbe3018031f9586bcbf41727e417b7d1c45c2f47f93be372a17b96b50757d5a2',
  'Amazon Root CA 2': '7f4296fc5b6a4e3b35d3c369623e364ab1af381d8fa7121533c9d6c633ea2461',
  'Amazon Root CA 3': '36abc32656acfc645c61b71613c4bf21c787f5cabbee48348d58597803d7abc9',
  'Amazon Root CA 4': 'f7ecded5c66047d28ed6466b543c40e0743abe81d109254dcf845d4c2c7853c5',
  'Starfield Services Root Certificate Authority - G2': '2b071c59a0a0ae76b0eadb2bad23bad4580b69c3601b630c2eaf0613afa83f92',
}

describe('AMAZON_TRUST_SERVICES_ROOTS', () => {
  it('are exactly the five roots Amazon Trust Services publishes, self-signed CAs', () => {
    const seen: Record<string, string> = {}
    for (const pem of AMAZON_TRUST_SERVICES_ROOTS) {
      const certificate = new X509Certificate(pem)
      const commonName = /CN=([^\n]+)/.exec(certificate.subject)?.[1] ?? ''
      seen[commonName] = createHash('sha256').update(certificate.publicKey.export({ type: 'spki', format: 'der' })).digest('hex')
      expect(certificate.ca).toBe(true)
      expect(certificate.checkIssued(certificate)).toBe(true)
      expect(certificate.verify(certificate.publicKey)).toBe(true)
      expect(new Date(certificate.validTo).getUTCFullYear()).toBeGreaterThanOrEqual(2037)
    }
    expect(seen).toEqual(PUBLISHED_SPKI_SHA256)
  })

  it('is frozen', () => {
    expect(Object.isFrozen(AMAZON_TRUST_SERVICES_ROOTS)).toBe(true)
  })
})
