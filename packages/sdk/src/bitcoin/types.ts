import type { CustodyClient } from '../client/createCustodyClient.js'

/**
 * The part of a `CustodyClient` the Bitcoin adapter uses: pass the client from `createCustodyClient` (or
 * anything with these methods, such as a test double).
 */
export type EnclavePsbtSignerClient = Pick<CustodyClient, 'getKey' | 'signBitcoinPsbt'>

/** A bitcoinjs-lib `Psbt` as the adapter reads it (structurally: bitcoinjs-lib is not a dependency). */
export type BitcoinjsPsbtLike = { toBase64(): string }

/** A @scure/btc-signer `Transaction` as the adapter reads it (structurally). */
export type ScureTransactionLike = { toPSBT(version?: number): Uint8Array }

/**
 * A PSBT (BIP-174, version 0) as the adapter takes it: base64, bytes, a bitcoinjs-lib `Psbt`, or a
 * @scure/btc-signer `Transaction` (exported with `toPSBT(0)`).
 */
export type PsbtInput = string | Uint8Array | BitcoinjsPsbtLike | ScureTransactionLike
