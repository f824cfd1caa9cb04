import { AttestationError, CustodyError, InvalidArgumentError } from '@enclave-custody/sdk'
import type { AttestationProvider } from '../../keys/types.js'
import { createNsmDeviceTransport, type NsmTransport } from './createNsmDeviceTransport.js'
import { decodeNsmResponse, type NsmResponse, type NsmResponseType } from './decodeNsmResponse.js'
import { encodeNsmRequest, type NsmRequest } from './encodeNsmRequest.js'
import { NSM_DEVICE_PATH, NSM_RESPONSE_MAX_SIZE } from './nsmConstants.js'

/** Options of {@link createNsmAttestationProvider}. */
export type CreateNsmAttestationProviderParameters = {
  /** The NSM device, opened at creation. Ignored when `transport` is given. @default '/dev/nsm' */
  devicePath?: string
  /**
   * Sends one CBOR request and returns the CBOR response. @default the `/dev/nsm` ioctl
   * ({@link createNsmDeviceTransport}); inject a fake device in tests.
   */
  transport?: NsmTransport
}

/** One PCR as the NSM reports it. */
export type NsmPcr = {
  /** Whether the PCR is locked (read-only). PCR0..PCR4 and PCR8 are locked at enclave boot. */
  locked: boolean
  /** The PCR's value (48 bytes: SHA-384). */
  value: Uint8Array
}

/** The Nitro Secure Module as an {@link AttestationProvider}, plus PCR reads and entropy. */
export type NsmAttestationProvider = AttestationProvider & {
  readonly kind: 'nsm'
  /**
   * Ask the NSM for an attestation document (COSE_Sign1, signed by the AWS Nitro PKI) carrying the given
   * public key (DER SPKI, 1..1024 bytes), user data and nonce (0..512 bytes each).
   * @throws InvalidArgumentError on a field outside those limits or an unknown field.
   * @throws NsmError when the NSM answers with an error; AttestationError when the device call fails.
   */
  attest(request: { publicKey?: Uint8Array; userData?: Uint8Array; nonce?: Uint8Array }): Promise<Uint8Array>
  /**
   * Read PCR `index` (0..31 on Nitro).
   * @throws NsmError `InvalidIndex` for a PCR the NSM does not have.
   */
  describePcr(index: number): Promise<NsmPcr>
  /** Entropy from the NSM's hardware random source (the NSM decides how many bytes; 256 at most). */
  getRandom(): Promise<Uint8Array>
  /** Close the device (when this provider opened it). Later calls throw. Idempotent. */
  close(): void
}

/** What {@link createNsmAttestationProvider} resolves to. */
export type CreateNsmAttestationProviderReturnType = NsmAttestationProvider

/**
 * Create the production attestation provider: requests go to the Nitro Secure Module as CBOR over the
 * `/dev/nsm` ioctl (the protocol of aws-nitro-enclaves-nsm-api), responses are decoded strictly, and NSM
 * error codes become {@link NsmError}s (`ATTESTATION_FAILED`).
 *
 * @param parameters - The device path, or a transport that replaces the device.
 * @returns The provider, with the device already open (so a missing device fails at boot, not on the
 *   first key operation).
 * @throws AttestationError when the device cannot be opened, with a message naming the path and why
 *   (`ENOENT`: not inside a Nitro Enclave).
 * @example
 * import { createNsmAttestationProvider } from '@enclave-custody/enclave-runtime'
 * const nsm = await createNsmAttestationProvider()
 * const document = await nsm.attest({ publicKey: spkiDer, nonce })
 * const { value: pcr0 } = await nsm.describePcr(0)
 */
export async function createNsmAttestationProvider(parameters: CreateNsmAttestationProviderParameters = {}): Promise<CreateNsmAttestationProviderReturnType> {
  if (typeof parameters !== 'object' || parameters === null) throw new InvalidArgumentError({ field: 'parameters', rule: 'must be an object' })
  const { devicePath = NSM_DEVICE_PATH, transport } = parameters
  if (transport !== undefined && typeof transport !== 'function') throw new InvalidArgumentError({ field: 'transport', rule: 'must be a function (request bytes → response bytes)' })
  const device = transport === undefined ? await createNsmDeviceTransport({ devicePath }) : undefined
  const send: NsmTransport = transport ?? device!.request
  let closed = false

  const call = async <T extends NsmResponseType>(request: NsmRequest & { type: T }): Promise<NsmResponse[T]> => {
    if (closed) throw new AttestationError({ reason: 'the NSM provider is closed' })
    const bytes = encodeNsmRequest(request)
    let response: Uint8Array
    try {
      response = send(bytes)
    } catch (cause) {
      throw cause instanceof CustodyError ? cause : new AttestationError({ reason: `the NSM ${request.type} request failed`, cause })
    }
    if (!(response instanceof Uint8Array)) throw new AttestationError({ reason: `the NSM transport returned no bytes for ${request.type}` })
    if (response.length > NSM_RESPONSE_MAX_SIZE) {
      throw new AttestationError({ reason: `the NSM ${request.type} response is ${response.length} bytes, more than the ${NSM_RESPONSE_MAX_SIZE} the driver can return` })
    }
    return decodeNsmResponse(response, request.type)
  }

  return {
    kind: 'nsm',
    async attest(request) {
      const { publicKey, userData, nonce } = attestFields(request)
      const { document } = await call({ type: 'Attestation', publicKey, userData, nonce })
      return document
    },
    async describePcr(index) {
      const { lock, data } = await call({ type: 'DescribePCR', index })
      return { locked: lock, value: data }
    },
    async getRandom() {
      const { random } = await call({ type: 'GetRandom' })
      return random
    },
    close() {
      if (closed) return
      closed = true
      device?.close()
    },
  }
}

function attestFields(request: unknown): { publicKey?: Uint8Array; userData?: Uint8Array; nonce?: Uint8Array } {
  if (typeof request !== 'object' || request === null) throw new InvalidArgumentError({ field: 'request', rule: 'must be an object' })
  const { publicKey, userData, nonce, ...rest } = request as Record<string, unknown>
  const unknown = Object.keys(rest)
  if (unknown.length > 0) throw new InvalidArgumentError({ field: 'request', rule: `has unknown field ${JSON.stringify(unknown[0]!.slice(0, 40))}` })
  // Types and sizes are checked by encodeNsmRequest, which names the field.
  return { publicKey, userData, nonce } as { publicKey?: Uint8Array; userData?: Uint8Array; nonce?: Uint8Array }
}
