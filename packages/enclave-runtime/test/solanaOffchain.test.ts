/**
 * Solana off-chain messages (v0): messages encoded by @solana/kit's codec are parsed to the same fields and
 * signed to the same signature kit produces with the same key (ed25519 is deterministic), which kit's
 * envelope verification accepts; malformed messages are refused naming the field (and kit refuses them too,
 * where it does), nothing signed.
 */
import { isCustodyError } from '@enclave-custody/sdk'
import {
  type Address,
  compileOffchainMessageV0Envelope,
  createKeyPairFromPrivateKeyBytes,
  getOffchainMessageDecoder,
  getOffchainMessageV0Codec,
  getOffchainMessageV1Codec,
  type OffchainMessageApplicationDomain,
  type OffchainMessageV0,
  OffchainMessageContentFormat,
  partiallySignOffchainMessageEnvelope,
  type SignatureBytes,
  verifyOffchainMessageEnvelope,
} from '@solana/kit'
import { describe, expect, it } from 'vitest'
import { solanaAddress } from '../src/families/solana/address.js'
import { parseSolanaOffchainMessage } from '../src/families/solana/offchainMessage.js'
import { signSolanaOffchainMessage, signSolanaTransaction } from '../src/families/solana/sign.js'
import { createRng } from './rng.js'
import { addressOf, keyFromSeed, kitMessageBytes } from './solanaSupport.js'

const rng = createRng(0x501a_0003)
const alice = keyFromSeed(rng.bytes(32))
const others = [keyFromSeed(rng.bytes(32)), keyFromSeed(rng.bytes(32))]
const domain = addressOf(rng.bytes(32)) as unknown as OffchainMessageApplicationDomain

function kitMessage(format: OffchainMessageContentFormat, text: string, signers: readonly Address[]): OffchainMessageV0 {
  return {
    version: 0,
    applicationDomain: domain,
    content: { format, text },
    requiredSignatories: signers.map((address) => ({ address })),
  } as unknown as OffchainMessageV0
}
const encode = (m: OffchainMessageV0) => new Uint8Array(getOffchainMessageV0Codec().encode(m))

describe('Solana off-chain messages', () => {
  const cases = [
    { format: OffchainMessageContentFormat.RESTRICTED_ASCII_1232_BYTES_MAX, text: 'Sign in to example.com, nonce 42' },
    { format: OffchainMessageContentFormat.UTF8_1232_BYTES_MAX, text: 'Grüße ✌🏿 — 署名' },
    { format: OffchainMessageContentFormat.UTF8_65535_BYTES_MAX, text: 'é'.repeat(20_000) },
  ]
  for (const [i, { format, text }] of cases.entries()) {
    it(`format ${format}: parsed as kit encodes it, signed as kit signs it, verified by kit's envelope check`, async () => {
      const signers = [others[0]!.address, alice.address, others[1]!.address].slice(i === 0 ? 1 : 0, i === 2 ? 2 : 3)
      const bytes = encode(kitMessage(format, text, signers))
      const parsed = parseSolanaOffchainMessage(bytes)
      expect({ ...parsed, applicationDomain: solanaAddress(parsed.applicationDomain), signers: parsed.signers.map((s) => solanaAddress(s)) }).toEqual({
        version: 0,
        applicationDomain: domain,
        format,
        signers,
        text,
      })
      expect(getOffchainMessageDecoder().decode(bytes)).toMatchObject({ content: { format, text } })

      const signed = signSolanaOffchainMessage({ privateKey: alice.seed, message: i === 1 ? Buffer.from(bytes).toString('base64') : bytes })
      expect(signed.signerIndex).toBe(signers.indexOf(alice.address))
      expect(signed.signer).toBe(alice.address)

      const envelope = compileOffchainMessageV0Envelope(kitMessage(format, text, signers))
      expect(new Uint8Array(envelope.content)).toEqual(bytes)
      const kitSigned = await partiallySignOffchainMessageEnvelope([await createKeyPairFromPrivateKeyBytes(alice.seed)], envelope)
      expect(signed.signature).toEqual(new Uint8Array(kitSigned.signatures[alice.address]!))
      // Every signer signs (the others with kit), and kit's verification accepts ours among them.
      const othersSigned = await partiallySignOffchainMessageEnvelope(
        await Promise.all(others.filter((o) => signers.includes(o.address)).map((o) => createKeyPairFromPrivateKeyBytes(o.seed))),
        envelope,
      )
      await expect(
        verifyOffchainMessageEnvelope({ ...othersSigned, signatures: { ...othersSigned.signatures, [alice.address]: signed.signature as SignatureBytes } }),
      ).resolves.toBeUndefined()
      const tampered = signed.signature.with(0, signed.signature[0]! ^ 1)
      await expect(
        verifyOffchainMessageEnvelope({ ...othersSigned, signatures: { ...othersSigned.signatures, [alice.address]: tampered as SignatureBytes } }),
      ).rejects.toThrow()
    })
  }

  const good = encode(kitMessage(OffchainMessageContentFormat.RESTRICTED_ASCII_1232_BYTES_MAX, 'hello', [alice.address]))
  const preamble = good.length - 5 // signing domain … body length
  const withBody = (body: Uint8Array, format = 1) => {
    const out = new Uint8Array(preamble + body.length)
    out.set(good.subarray(0, preamble))
    out[16 + 1 + 32] = format
    out[preamble - 2] = body.length & 0xff
    out[preamble - 1] = body.length >> 8
    out.set(body, preamble)
    return out
  }
  const edit = (f: (b: Uint8Array) => void) => {
    const b = good.slice()
    f(b)
    return b
  }
  const transaction = kitMessageBytes({ version: 0, feePayer: alice.address, blockhash: addressOf(rng.bytes(32)), instructions: [] })
  const malformed: { name: string; bytes: Uint8Array; field: string; kitRefuses: boolean }[] = [
    { name: 'another signing domain', bytes: edit((b) => (b[1] = 0x53)), field: 'message.signingDomain', kitRefuses: true },
    { name: 'a transaction message', bytes: transaction, field: 'message.signingDomain', kitRefuses: true },
    { name: 'empty', bytes: new Uint8Array(0), field: 'message.signingDomain', kitRefuses: true },
    { name: 'the preamble cut short', bytes: good.subarray(0, 40), field: 'message', kitRefuses: true },
    {
      // The Agave CLI's older v0 layout (no application domain, no signers): domain, version, format, length, body.
      name: 'the Agave CLI layout',
      bytes: Uint8Array.of(...good.subarray(0, 16), 0, 0, 5, 0, ...new TextEncoder().encode('hello')),
      field: 'message',
      kitRefuses: true,
    },
    { name: 'version 2', bytes: edit((b) => (b[16] = 2)), field: 'message.version', kitRefuses: true },
    {
      name: 'version 1 (valid for kit, unsupported here)',
      bytes: new Uint8Array(getOffchainMessageV1Codec().encode({ version: 1, content: 'hello', requiredSignatories: [{ address: alice.address }] })),
      field: 'message.version',
      kitRefuses: false,
    },
    { name: 'format 3', bytes: edit((b) => (b[49] = 3)), field: 'message.format', kitRefuses: true },
    { name: 'no signer', bytes: Uint8Array.of(...good.subarray(0, 50), 0, 5, 0, ...new TextEncoder().encode('hello')), field: 'message.signers', kitRefuses: true },
    {
      name: 'a signer twice',
      bytes: encode(kitMessage(OffchainMessageContentFormat.RESTRICTED_ASCII_1232_BYTES_MAX, 'hello', [alice.address, alice.address])),
      field: 'message.signers[1]',
      kitRefuses: false,
    },
    { name: 'an empty body', bytes: withBody(new Uint8Array(0), 0), field: 'message.length', kitRefuses: true },
    { name: 'a truncated body', bytes: good.subarray(0, good.length - 1), field: 'message.length', kitRefuses: true },
    { name: 'a trailing byte', bytes: Uint8Array.of(...good, 0x41), field: 'message.length', kitRefuses: true },
    { name: 'a control character in ASCII format', bytes: withBody(new TextEncoder().encode('a\nb'), 0), field: 'message.body', kitRefuses: true },
    { name: 'non-ASCII in ASCII format', bytes: withBody(new TextEncoder().encode('café'), 0), field: 'message.body', kitRefuses: true },
    { name: 'invalid UTF-8', bytes: withBody(Uint8Array.of(0x61, 0xc3, 0x28), 1), field: 'message.body', kitRefuses: true },
    { name: 'an overlong UTF-8 encoding', bytes: withBody(Uint8Array.of(0xc0, 0xaf), 2), field: 'message.body', kitRefuses: true },
    { name: 'a NUL byte', bytes: withBody(Uint8Array.of(0x61, 0, 0x62), 1), field: 'message.body', kitRefuses: true },
    { name: 'format 1 over 1232 bytes in all', bytes: withBody(new Uint8Array(1200).fill(0x61), 1), field: 'message', kitRefuses: true },
  ]
  for (const { name, bytes, field, kitRefuses } of malformed) {
    it(`refuses ${name} (field ${field}), nothing signed`, () => {
      let error: unknown
      try {
        signSolanaOffchainMessage({ privateKey: alice.seed, message: bytes })
      } catch (e) {
        error = e
      }
      expect(isCustodyError(error, 'INVALID_ARGUMENT')).toBe(true)
      expect((error as { details: { field: string } }).details.field).toBe(field)
      if (kitRefuses) expect(() => getOffchainMessageDecoder().decode(bytes)).toThrow()
    })
  }

  it('refuses a key that is not a signer, and an off-chain message as a transaction', () => {
    expect(() => signSolanaOffchainMessage({ privateKey: others[0]!.seed, message: good })).toThrow(/not a signer/)
    expect(() => signSolanaTransaction({ privateKey: alice.seed, message: good })).toThrow(/"message.version" is 127/)
  })
})
