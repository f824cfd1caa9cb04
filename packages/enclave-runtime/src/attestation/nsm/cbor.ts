/**
 * The SDK's strict CBOR decoder (no indefinite lengths, floats, duplicate keys or trailing bytes), reused
 * for NSM responses. Imported by relative path because the SDK does not export it; tsup bundles it into
 * this package's dist. If the SDK starts exporting it (e.g. from `@enclave-custody/sdk/protocol`), switch
 * this one line.
 *
 * @internal Not part of the package's public surface.
 */
export { CborDecodeError, type CborValue, decodeCbor } from '../../../../sdk/src/attestation/cbor.js'
