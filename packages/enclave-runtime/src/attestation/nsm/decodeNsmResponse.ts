import { AttestationError } from '@enclave-custody/sdk'
import { type CborValue, decodeCbor } from './cbor.js'
import { isNsmErrorCode, NsmError } from './NsmError.js'
import { NSM_RESPONSE_MAX_SIZE } from './nsmConstants.js'

/** The response variants this runtime asks for, keyed by the request that produces them. */
export type NsmResponse = {
  Attestation: { document: Uint8Array }
  DescribePCR: { lock: boolean; data: Uint8Array }
  GetRandom: { random: Uint8Array }
}

/** The request types whose responses {@link decodeNsmResponse} decodes. */
export type NsmResponseType = keyof NsmResponse

/** Digest lengths a PCR can have (SHA-256, SHA-384 — what Nitro uses — and SHA-512). */
const PCR_LENGTHS = new Set([32, 48, 64])

/**
 * Decode the NSM's CBOR answer to a request of type `expected`: the serde encoding of the
 * aws-nitro-enclaves-nsm-api `Response` enum, `{"Attestation": {"document": bstr}}`,
 * `{"DescribePCR": {"lock": bool, "data": bstr}}`, `{"GetRandom": {"random": bstr}}`, or
 * `{"Error": "<ErrorCode>"}`. The CBOR must be well formed and strict (see the SDK decoder); fields the
 * variant does not define are ignored, missing or wrongly typed ones are not.
 *
 * @param bytes - The response bytes (at most {@link NSM_RESPONSE_MAX_SIZE}).
 * @param expected - The type of the request that was sent.
 * @returns The variant's fields; byte strings are fresh copies.
 * @throws NsmError when the NSM answered `{"Error": code}` with a known code.
 * @throws AttestationError on malformed CBOR, an oversized response, an unknown error code, a variant
 *   other than `expected`, or missing or wrongly typed fields.
 * @example
 * import { decodeNsmResponse } from './decodeNsmResponse.js'
 * const { random } = decodeNsmResponse(responseBytes, 'GetRandom')
 */
export function decodeNsmResponse<T extends NsmResponseType>(bytes: Uint8Array, expected: T): NsmResponse[T] {
  if (!(bytes instanceof Uint8Array)) throw malformed(expected, 'is not bytes')
  if (bytes.length > NSM_RESPONSE_MAX_SIZE) throw malformed(expected, `is ${bytes.length} bytes, more than the ${NSM_RESPONSE_MAX_SIZE} the driver can return`)
  let value: CborValue
  try {
    value = decodeCbor(bytes, { maxDepth: 4 })
  } catch (cause) {
    throw new AttestationError({ reason: `the NSM ${expected} response is not valid CBOR`, cause })
  }
  // A unit variant (e.g. "LockPCR") is a bare text string; none of the expected responses is one.
  if (typeof value === 'string') throw malformed(expected, `is the unit variant ${safeName(value)}, not ${expected}`)
  if (!(value instanceof Map) || value.size !== 1) throw malformed(expected, 'is not a one-entry map (a response variant)')
  const [variant, fields] = [...(value as Map<unknown, CborValue>)][0]!
  if (variant === 'Error') {
    if (isNsmErrorCode(fields)) throw new NsmError({ code: fields, operation: expected })
    throw malformed(expected, `carries the unknown error code ${typeof fields === 'string' ? safeName(fields) : `of type ${typeof fields}`}`)
  }
  if (variant !== expected) throw malformed(expected, `is the variant ${typeof variant === 'string' ? safeName(variant) : typeof variant}, not ${expected}`)
  if (!(fields instanceof Map)) throw malformed(expected, 'has no field map')
  switch (expected) {
    case 'Attestation': {
      const document = bytesField(fields, 'document', expected)
      if (document.length === 0) throw malformed(expected, 'has an empty document')
      return { document } as NsmResponse[T]
    }
    case 'DescribePCR': {
      const lock = fields.get('lock')
      if (typeof lock !== 'boolean') throw malformed(expected, 'has no boolean "lock"')
      const data = bytesField(fields, 'data', expected)
      if (!PCR_LENGTHS.has(data.length)) throw malformed(expected, `has a ${data.length}-byte PCR (expected 32, 48 or 64)`)
      return { lock, data } as NsmResponse[T]
    }
    case 'GetRandom': {
      const random = bytesField(fields, 'random', expected)
      if (random.length === 0) throw malformed(expected, 'has no random bytes')
      return { random } as NsmResponse[T]
    }
    default:
      throw malformed(expected, 'was requested for an unsupported type')
  }
}

function bytesField(fields: Map<unknown, CborValue>, name: string, expected: string): Uint8Array {
  const value = fields.get(name)
  if (!(value instanceof Uint8Array)) throw malformed(expected, `has no byte string "${name}"`)
  return value
}

function malformed(expected: string, problem: string): AttestationError {
  return new AttestationError({ reason: `the NSM ${expected} response ${problem}` })
}

/** A variant or code name for an error message: identifier characters only, never arbitrary content. */
function safeName(name: string): string {
  return /^[A-Za-z]{1,40}$/.test(name) ? `"${name}"` : '(not an identifier)'
}
