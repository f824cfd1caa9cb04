/**
 * Test-only Nitro-style attestation documents: an untagged COSE_Sign1 (ES384) whose payload has the NSM
 * fields (module_id, digest, timestamp, pcrs, certificate, cabundle, public_key, user_data, nonce), issued by
 * a throwaway P-384 CA made with OpenSSL. Also a small verifier for injection into local-aws while
 * `@enclave-custody/sdk` has no `verifyAttestationDocument`. Uses its own minimal CBOR codec so that it
 * shares no code with the implementations under test.
 */
import { execFileSync } from 'node:child_process'
import { createHash, sign, verify, X509Certificate } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { VerifiedAttestationDocument, VerifyAttestationFunction } from '@enclave-custody/local-aws'
import { AttestationError } from '@enclave-custody/sdk'

export type Cbor = number | string | Uint8Array | null | boolean | Cbor[] | Map<Cbor, Cbor>

function head(major: number, n: number): number[] {
  if (n < 24) return [(major << 5) | n]
  if (n < 0x100) return [(major << 5) | 24, n]
  if (n < 0x10000) return [(major << 5) | 25, n >> 8, n & 0xff]
  if (n < 0x100000000) return [(major << 5) | 26, ...u32(n)]
  return [(major << 5) | 27, ...u32(Math.floor(n / 0x100000000)), ...u32(n % 0x100000000)]
}

function u32(n: number): number[] {
  return [(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]
}

/** Encode the CBOR subset used by attestation documents (definite lengths). */
export function cborEncode(value: Cbor): Uint8Array {
  const out: number[] = []
  const walk = (v: Cbor): void => {
    if (v === null) out.push(0xf6)
    else if (v === true) out.push(0xf5)
    else if (v === false) out.push(0xf4)
    else if (typeof v === 'number') out.push(...(v >= 0 ? head(0, v) : head(1, -1 - v)))
    else if (typeof v === 'string') {
      const bytes = new TextEncoder().encode(v)
      out.push(...head(3, bytes.length), ...bytes)
    } else if (v instanceof Uint8Array) out.push(...head(2, v.length), ...v)
    else if (Array.isArray(v)) {
      out.push(...head(4, v.length))
      for (const item of v) walk(item)
    } else {
      out.push(...head(5, v.size))
      for (const [k, item] of v) {
        walk(k)
        walk(item)
      }
    }
  }
  walk(value)
  return new Uint8Array(out)
}

/** Decode the same subset (plus tags, which are skipped). */
export function cborDecode(bytes: Uint8Array): Cbor {
  let pos = 0
  const byte = (): number => {
    if (pos >= bytes.length) throw new Error('truncated CBOR')
    return bytes[pos++]!
  }
  const length = (info: number): number => {
    if (info < 24) return info
    const size = info === 24 ? 1 : info === 25 ? 2 : info === 26 ? 4 : info === 27 ? 8 : -1
    if (size < 0) throw new Error('unsupported CBOR length')
    let n = 0
    for (let i = 0; i < size; i++) n = n * 256 + byte()
    return n
  }
  const item = (): Cbor => {
    const initial = byte()
    const major = initial >> 5
    const info = initial & 0x1f
    if (major === 7) {
      if (info === 20) return false
      if (info === 21) return true
      if (info === 22) return null
      throw new Error('unsupported CBOR simple value')
    }
    const n = length(info)
    switch (major) {
      case 0:
        return n
      case 1:
        return -1 - n
      case 2: {
        if (pos + n > bytes.length) throw new Error('truncated CBOR')
        const out = bytes.slice(pos, pos + n)
        pos += n
        return out
      }
      case 3: {
        if (pos + n > bytes.length) throw new Error('truncated CBOR')
        const out = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(pos, pos + n))
        pos += n
        return out
      }
      case 4:
        return Array.from({ length: n }, item)
      case 5: {
        const map = new Map<Cbor, Cbor>()
        for (let i = 0; i < n; i++) map.set(item(), item())
        return map
      }
      default:
        return item()
    }
  }
  const value = item()
  if (pos !== bytes.length) throw new Error('trailing bytes after CBOR item')
  return value
}

export type IssueParameters = {
  /** PCR index → 48 bytes hex; unspecified PCRs 0..15 are zero. */
  pcrs?: Record<number, string>
  /** DER SPKI for `public_key`; `null` omits it. */
  publicKey: Uint8Array | null
  timestamp?: Date
  userData?: Uint8Array
  nonce?: Uint8Array
}

/** A throwaway attestation CA: root (self-signed) → leaf, both P-384, made with OpenSSL. */
export class TestAttestationAuthority {
  readonly rootPem: string
  readonly #leafKeyPem: string
  readonly #leafDer: Uint8Array
  readonly #rootDer: Uint8Array
  readonly #dir: string

  private constructor(dir: string) {
    this.#dir = dir
    const openssl = (...args: string[]) => execFileSync('/usr/bin/openssl', args, { cwd: dir, stdio: 'pipe' })
    // Shaped like the Nitro chain: a CA with critical basicConstraints + keyCertSign, a non-CA signing leaf.
    openssl(
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-384', '-nodes', '-sha384', '-days', '30',
      '-subj', '/CN=local-aws test nitro root', '-keyout', 'root.key', '-out', 'root.pem',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
    )
    writeFileSync(join(dir, 'leaf.cnf'), 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n')
    openssl('req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-384', '-nodes', '-subj', '/CN=i-0123456789abcdef0-enc0123456789abcdef', '-keyout', 'leaf.key', '-out', 'leaf.csr')
    openssl('x509', '-req', '-in', 'leaf.csr', '-CA', 'root.pem', '-CAkey', 'root.key', '-set_serial', '2', '-sha384', '-days', '1', '-extfile', 'leaf.cnf', '-out', 'leaf.pem')
    this.rootPem = readFileSync(join(dir, 'root.pem'), 'utf8')
    this.#leafKeyPem = readFileSync(join(dir, 'leaf.key'), 'utf8')
    this.#rootDer = new Uint8Array(new X509Certificate(this.rootPem).raw)
    this.#leafDer = new Uint8Array(new X509Certificate(readFileSync(join(dir, 'leaf.pem'))).raw)
  }

  static create(): TestAttestationAuthority {
    return new TestAttestationAuthority(mkdtempSync(join(tmpdir(), 'local-aws-nitro-ca-')))
  }

  /** Issue a signed attestation document. */
  issue({ pcrs = {}, publicKey, timestamp = new Date(), userData, nonce }: IssueParameters): Uint8Array {
    const pcrMap = new Map<Cbor, Cbor>()
    for (let i = 0; i < 16; i++) pcrMap.set(i, Buffer.from(pcrs[i] ?? '00'.repeat(48), 'hex'))
    const payload = new Map<Cbor, Cbor>([
      ['module_id', 'i-0123456789abcdef0-enc0123456789abcdef'],
      ['digest', 'SHA384'],
      ['timestamp', timestamp.getTime()],
      ['pcrs', pcrMap],
      ['certificate', this.#leafDer],
      ['cabundle', [this.#rootDer]],
      ['public_key', publicKey],
      ['user_data', userData ?? null],
      ['nonce', nonce ?? null],
    ])
    const protectedHeader = cborEncode(new Map<Cbor, Cbor>([[1, -35]]))
    const payloadBytes = cborEncode(payload)
    const toSign = cborEncode(['Signature1', protectedHeader, new Uint8Array(0), payloadBytes])
    const signature = sign('sha384', toSign, { key: this.#leafKeyPem, dsaEncoding: 'ieee-p1363' })
    return cborEncode([protectedHeader, new Map(), payloadBytes, new Uint8Array(signature)])
  }

  dispose(): void {
    rmSync(this.#dir, { recursive: true, force: true })
  }
}

/** PCR value helper: SHA-384 of a label, as hex. */
export function pcr(label: string): string {
  return createHash('sha384').update(label).digest('hex')
}

/**
 * Verify a document from {@link TestAttestationAuthority}: COSE_Sign1 ES384 signature by the leaf, leaf issued by
 * `cabundle`, `cabundle[0]` one of `roots`, every certificate valid at `now`. Throws AttestationError.
 */
export const verifyTestAttestation: VerifyAttestationFunction = (document, { roots, now }): VerifiedAttestationDocument => {
  const fail = (reason: string): never => {
    throw new AttestationError({ reason })
  }
  let cose: Cbor
  try {
    cose = cborDecode(document)
  } catch {
    return fail('not CBOR')
  }
  if (!Array.isArray(cose) || cose.length !== 4) return fail('not a COSE_Sign1 structure')
  const [protectedHeader, , payloadBytes, signature] = cose
  if (!(protectedHeader instanceof Uint8Array) || !(payloadBytes instanceof Uint8Array) || !(signature instanceof Uint8Array)) return fail('malformed COSE_Sign1')
  const header = cborDecode(protectedHeader)
  if (!(header instanceof Map) || header.get(1) !== -35) return fail('algorithm is not ES384')
  const payload = cborDecode(payloadBytes)
  if (!(payload instanceof Map)) return fail('payload is not a map')
  const certificate = payload.get('certificate')
  const cabundle = payload.get('cabundle')
  if (!(certificate instanceof Uint8Array) || !Array.isArray(cabundle) || !cabundle.every((c) => c instanceof Uint8Array) || cabundle.length === 0) {
    return fail('missing certificates')
  }
  const leaf = new X509Certificate(certificate)
  const bundle = (cabundle as Uint8Array[]).map((c) => new X509Certificate(c))
  if (!roots.some((pem) => Buffer.compare(new X509Certificate(pem).raw, bundle[0]!.raw) === 0)) return fail('cabundle does not start at a trusted root')
  const chain = [...bundle, leaf]
  for (let i = 1; i < chain.length; i++) if (!chain[i]!.verify(chain[i - 1]!.publicKey)) return fail('certificate chain does not verify')
  for (const cert of chain) if (now < new Date(cert.validFrom) || now > new Date(cert.validTo)) return fail('certificate not valid now')
  const toVerify = cborEncode(['Signature1', protectedHeader, new Uint8Array(0), payloadBytes])
  if (!verify('sha384', toVerify, { key: leaf.publicKey, dsaEncoding: 'ieee-p1363' }, signature)) return fail('signature does not verify')
  const pcrMap = payload.get('pcrs')
  if (!(pcrMap instanceof Map)) return fail('missing pcrs')
  const pcrs: Record<number, string> = {}
  for (const [k, v] of pcrMap) if (typeof k === 'number' && v instanceof Uint8Array) pcrs[k] = Buffer.from(v).toString('hex')
  const optional = (key: string): Uint8Array | undefined => {
    const v = payload.get(key)
    return v instanceof Uint8Array ? v : undefined
  }
  const publicKey = optional('public_key')
  const userData = optional('user_data')
  const nonce = optional('nonce')
  return {
    moduleId: String(payload.get('module_id')),
    timestamp: new Date(Number(payload.get('timestamp'))),
    digest: 'SHA384',
    pcrs,
    ...(publicKey === undefined ? {} : { publicKey }),
    ...(userData === undefined ? {} : { userData }),
    ...(nonce === undefined ? {} : { nonce }),
    certificate,
  }
}
