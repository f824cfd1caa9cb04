/**
 * The SDK's strict CBOR decoder (no indefinite lengths, floats, duplicate keys or trailing bytes), reused
 * for NSM responses.
 *
 * @internal Not part of the package's public surface.
 */
export { CborDecodeError, type CborValue, decodeCbor } from '@enclave-custody/sdk/protocol'
