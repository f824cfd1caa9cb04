import { InvalidArgumentError } from '@enclave-custody/sdk'
import { type CborInput, encodeCbor } from '../encodeCbor.js'
import { NSM_REQUEST_MAX_SIZE } from './nsmConstants.js'

/**
 * The NSM requests this runtime sends. `Attestation` fields are optional; each absent one is sent as
 * CBOR `null`, as the AWS library does for `None`.
 */
export type NsmRequest =
  | { type: 'Attestation'; userData?: Uint8Array; nonce?: Uint8Array; publicKey?: Uint8Array }
  | { type: 'DescribePCR'; index: number }
  | { type: 'GetRandom' }

/** The NSM's documented limits on attestation request fields, in bytes. */
export const NSM_ATTESTATION_LIMITS = {
  userData: { min: 0, max: 512 },
  nonce: { min: 0, max: 512 },
  publicKey: { min: 1, max: 1024 },
} as const

/**
 * Encode an NSM request as the CBOR the NSM driver expects: the serde encoding of the
 * aws-nitro-enclaves-nsm-api `Request` enum. A struct variant is a one-entry map from the variant name to
 * a map of its fields in declaration order (`{"Attestation": {"user_data": …, "nonce": …,
 * "public_key": …}}`, `{"DescribePCR": {"index": n}}`); a unit variant is the bare name (`"GetRandom"`).
 * Byte fields are CBOR byte strings, absent options `null`.
 *
 * @param request - The request. Byte fields are copied, never retained.
 * @returns The CBOR bytes, at most {@link NSM_REQUEST_MAX_SIZE}.
 * @throws InvalidArgumentError on an unknown request type, a PCR index outside 0..65535, or a byte field
 *   outside {@link NSM_ATTESTATION_LIMITS}.
 * @example
 * import { encodeNsmRequest } from './encodeNsmRequest.js'
 * encodeNsmRequest({ type: 'GetRandom' }) // 69 47 65 74 52 61 6e 64 6f 6d ("GetRandom")
 */
export function encodeNsmRequest(request: NsmRequest): Uint8Array {
  if (typeof request !== 'object' || request === null) throw new InvalidArgumentError({ field: 'request', rule: 'must be an object' })
  let value: CborInput
  switch (request.type) {
    case 'Attestation':
      value = new Map([
        [
          'Attestation',
          new Map<string, CborInput>([
            ['user_data', bytesOrNull(request.userData, 'userData')],
            ['nonce', bytesOrNull(request.nonce, 'nonce')],
            ['public_key', bytesOrNull(request.publicKey, 'publicKey')],
          ]),
        ],
      ])
      break
    case 'DescribePCR': {
      const { index } = request
      if (!Number.isInteger(index) || index < 0 || index > 0xffff) throw new InvalidArgumentError({ field: 'index', rule: 'must be an integer 0..65535' })
      value = new Map([['DescribePCR', new Map([['index', index]])]])
      break
    }
    case 'GetRandom':
      value = 'GetRandom'
      break
    default:
      throw new InvalidArgumentError({ field: 'request.type', rule: 'must be "Attestation", "DescribePCR" or "GetRandom"' })
  }
  const bytes = encodeCbor(value)
  // Unreachable within the field limits (at most ~2.1 KiB); kept so a change of limits cannot slip past the driver's.
  if (bytes.length > NSM_REQUEST_MAX_SIZE) throw new InvalidArgumentError({ field: 'request', rule: `must encode to at most ${NSM_REQUEST_MAX_SIZE} bytes` })
  return bytes
}

function bytesOrNull(value: unknown, field: keyof typeof NSM_ATTESTATION_LIMITS): Uint8Array | null {
  if (value === undefined) return null
  const { min, max } = NSM_ATTESTATION_LIMITS[field]
  if (!(value instanceof Uint8Array) || value.length < min || value.length > max) {
    throw new InvalidArgumentError({ field, rule: `must be a Uint8Array of ${min}..${max} bytes` })
  }
  return Uint8Array.from(value)
}
