import { secp256k1 } from '@noble/curves/secp256k1.js'
import { NETWORK, p2pkh, p2sh, p2tr, p2wpkh, TEST_NETWORK } from '@scure/btc-signer'
import type { KeyInfo, SignBitcoinPsbtParameters, SignBitcoinPsbtReturnType } from '../client/createCustodyClient.js'
import { type CustodyError, IntegrityError, type InvalidArgumentError } from '../errors/CustodyError.js'
import { BITCOIN_NETWORKS, type BitcoinNetwork } from '../families/bitcoin/protocol.js'
import { BITCOIN_ADDRESS_FORMATS } from '../keys/sealedKeyRecord.js'
import { assertObject, fail, typeName } from '../utils/assert.js'
import { psbtOf } from './psbtOf.js'
import type { EnclavePsbtSignerClient, PsbtInput } from './types.js'

/** The address formats a signer can show: P2PKH, P2SH-P2WPKH, P2WPKH, P2TR (BIP-86 key path). */
export type BitcoinAddressFormat = (typeof BITCOIN_ADDRESS_FORMATS)[number]

/** `createEnclavePsbtSigner` options. */
export type CreateEnclavePsbtSignerParameters = {
  /** The network every PSBT is signed for. Required for a plain secp256k1 key; a Bitcoin account's own network by default (and no other). */
  network?: BitcoinNetwork
  /** The format of `address` for a plain secp256k1 key (a Bitcoin account has its own). @default 'p2wpkh' */
  format?: BitcoinAddressFormat
}

/** `signPsbt` options. */
export type SignPsbtOptions = {
  /** Finalize the inputs the key signs (every other input must already be final). @default false */
  finalize?: boolean
  /** Widenings the key's sealed policy must grant (see `signBitcoinPsbt`). */
  allow?: SignBitcoinPsbtParameters['allow']
}

/** A PSBT signer whose secp256k1 key lives in the enclave. */
export type EnclavePsbtSigner = Readonly<{
  /** The custody key this signer signs with. */
  keyId: string
  /** The network PSBTs are signed for. */
  network: BitcoinNetwork
  /** The key's compressed public key (33 bytes): what P2PKH, P2SH-P2WPKH and P2WPKH inputs name (P2TR: its x-only part, bytes 1–32). */
  publicKey: Uint8Array
  /** The key's address on `network`, in `format` (a Bitcoin account: its first receive address, as the enclave reported it). */
  address: string
  format: BitcoinAddressFormat
  /**
   * Sign the inputs of `psbt` the key owns and return the signed PSBT, base64 (finalized inputs with `finalize`).
   * Takes base64, bytes, a bitcoinjs-lib `Psbt` or a @scure/btc-signer `Transaction`; get the library's object back
   * with `toBitcoinjsPsbt` / `toScureTransaction`.
   */
  signPsbt(psbt: PsbtInput, options?: SignPsbtOptions): Promise<string>
  /** As `signPsbt`, with the whole verified answer: `{ psbt, signedInputs, transaction?, txid? }`. */
  signPsbtWithResult(psbt: PsbtInput, options?: SignPsbtOptions): Promise<SignBitcoinPsbtReturnType>
}>

export type CreateEnclavePsbtSignerReturnType = EnclavePsbtSigner

export type CreateEnclavePsbtSignerErrorType = InvalidArgumentError | IntegrityError | CustodyError

const REGTEST = { ...TEST_NETWORK, bech32: 'bcrt' }
const networkParams = (network: BitcoinNetwork) => (network === 'mainnet' ? NETWORK : network === 'regtest' ? REGTEST : TEST_NETWORK)

/** The address of a compressed public key in a format (P2TR: BIP-86, key path only). */
function addressOf(publicKey: Uint8Array, format: BitcoinAddressFormat, network: BitcoinNetwork): string {
  const params = networkParams(network)
  const address =
    format === 'p2pkh'
      ? p2pkh(publicKey, params).address
      : format === 'p2wpkh'
        ? p2wpkh(publicKey, params).address
        : format === 'p2sh-p2wpkh'
          ? p2sh(p2wpkh(publicKey, params), params).address
          : p2tr(publicKey.slice(1), undefined, params).address
  if (address === undefined) throw new IntegrityError({ reason: 'no address for the key' })
  return address
}

/** The compressed public key from the key info's (uncompressed) `publicKey`. */
function compressedPublicKey(info: KeyInfo): Uint8Array {
  if (!info.publicKey) throw new IntegrityError({ reason: `the enclave did not report the public key of "${info.keyId}"` })
  try {
    return secp256k1.Point.fromHex(info.publicKey.replace(/^0x/, '')).toBytes(true)
  } catch {
    throw new IntegrityError({ reason: `the enclave reported a public key of "${info.keyId}" that is not a secp256k1 point` })
  }
}

/**
 * A PSBT signer for @scure/btc-signer and bitcoinjs-lib flows whose secp256k1 key lives in the enclave: build the
 * PSBT with your library, `signPsbt` it (the enclave signs the inputs the key owns — P2PKH, P2SH-P2WPKH, P2WPKH,
 * P2TR key path — after parsing the PSBT and applying the key's signing policy; the custody client verifies every
 * signature before returning), then finalize and extract with your library (`toBitcoinjsPsbt`,
 * `toScureTransaction`) or let the enclave finalize (`{ finalize: true }`). Neither library is a dependency: their
 * objects are read structurally.
 *
 * @param custody the custody client (`createCustodyClient({ transport, stamper })`), used as is.
 * @param keyId a plain secp256k1 key (`importKey`) or a Bitcoin account of an HD wallet
 *   (`createAccount(walletId, { family: 'bitcoin', network, format })`); read once, here.
 * @param options `network` (required for a plain key) and, for a plain key, the `format` of `address`.
 * @returns the signer, with `publicKey` (compressed) and `address`.
 * @throws InvalidArgumentError on `keyId` when the key cannot sign PSBTs (an ed25519 key, an HD wallet, an EVM or
 *   Solana account), on `options.network` when it is missing for a plain key or is not a Bitcoin account's own.
 * @throws CustodyError `KEY_NOT_FOUND` when the key does not exist.
 * @throws IntegrityError when the key info's public key is not a point, or a Bitcoin account's address is not its public key's.
 *
 * @example
 * import { apiKeyStamper, createCustodyClient, nitroEnclave } from '@enclave-custody/sdk'
 * import { createEnclavePsbtSigner, toBitcoinjsPsbt } from '@enclave-custody/sdk/bitcoin'
 * import { Psbt, networks } from 'bitcoinjs-lib'
 *
 * const custody = createCustodyClient({
 *   transport: nitroEnclave({ url: process.env.CUSTODY_URL!, attestation: { pcr0: process.env.CUSTODY_PCR0!.split(',') } }),
 *   stamper: apiKeyStamper({ privateKey: process.env.CUSTODY_API_KEY! }),
 * })
 * const signer = await createEnclavePsbtSigner(custody, process.env.CUSTODY_KEY_ID!, { network: 'mainnet' })
 * const psbt = new Psbt({ network: networks.bitcoin }) // addInput / addOutput as usual, paying from signer.address
 * const signed = toBitcoinjsPsbt(await signer.signPsbt(psbt), Psbt, { network: networks.bitcoin })
 * signed.finalizeAllInputs()
 * const hex = signed.extractTransaction().toHex()
 */
export async function createEnclavePsbtSigner(custody: EnclavePsbtSignerClient, keyId: string, options: CreateEnclavePsbtSignerParameters = {}): Promise<CreateEnclavePsbtSignerReturnType> {
  if (typeof custody !== 'object' || custody === null || typeof custody.getKey !== 'function' || typeof custody.signBitcoinPsbt !== 'function') {
    fail('custody', `must be a custody client from createCustodyClient (got ${typeName(custody)})`)
  }
  if (typeof keyId !== 'string' || keyId.length === 0) fail('keyId', `must be a non-empty string (got ${typeName(keyId)})`)
  const o = assertObject(options, 'options', ['network', 'format'])
  if (o.network !== undefined && !(BITCOIN_NETWORKS as readonly unknown[]).includes(o.network)) fail('options.network', `must be one of ${BITCOIN_NETWORKS.join(', ')}`)
  if (o.format !== undefined && !(BITCOIN_ADDRESS_FORMATS as readonly unknown[]).includes(o.format)) fail('options.format', `must be one of ${BITCOIN_ADDRESS_FORMATS.join(', ')}`)

  const info = await custody.getKey(keyId)
  if (info.keyId !== keyId) throw new IntegrityError({ reason: 'getKey answered for another key' })
  if (info.kind === 'hd-wallet') fail('keyId', "names an HD wallet: sign with one of its Bitcoin accounts (createAccount(walletId, { family: 'bitcoin' }))")
  const account = info.kind === 'hd-account'
  if (info.curve !== 'secp256k1' || (account && info.family !== 'bitcoin') || (!account && info.kind !== 'secp256k1')) {
    fail('keyId', `must name a secp256k1 key or a Bitcoin account, not a ${info.family ?? info.curve} ${info.kind}`)
  }
  const publicKey = compressedPublicKey(info)

  let network: BitcoinNetwork
  let format: BitcoinAddressFormat
  let address: string
  if (account) {
    if (info.network === undefined || info.format === undefined) throw new IntegrityError({ reason: `the enclave did not report the network and format of the Bitcoin account "${keyId}"` })
    if (o.network !== undefined && o.network !== info.network) fail('options.network', `must be the account's network ${info.network} (got ${String(o.network)})`)
    if (o.format !== undefined && o.format !== info.format) fail('options.format', `must be the account's format ${info.format} (got ${String(o.format)})`)
    network = info.network
    format = info.format
    address = String(info.address)
    if (addressOf(publicKey, format, network) !== address) throw new IntegrityError({ reason: `the address of the Bitcoin account "${keyId}" is not its public key's` })
  } else {
    if (o.network === undefined) fail('options.network', 'is required for a plain secp256k1 key (mainnet, testnet, signet or regtest)')
    network = o.network as BitcoinNetwork
    format = (o.format as BitcoinAddressFormat | undefined) ?? 'p2wpkh'
    address = addressOf(publicKey, format, network)
  }

  async function signPsbtWithResult(psbt: PsbtInput, signOptions: SignPsbtOptions = {}): Promise<SignBitcoinPsbtReturnType> {
    const s = assertObject(signOptions, 'options', ['finalize', 'allow'])
    const params: SignBitcoinPsbtParameters = {
      psbt: psbtOf(psbt),
      network,
      ...(s.finalize === undefined ? {} : { finalize: s.finalize as boolean }),
      ...(s.allow === undefined ? {} : { allow: s.allow as SignBitcoinPsbtParameters['allow'] }),
    }
    return custody.signBitcoinPsbt(keyId, params)
  }

  return Object.freeze({
    keyId,
    network,
    get publicKey() {
      return publicKey.slice()
    },
    address,
    format,
    signPsbtWithResult,
    signPsbt: async (psbt: PsbtInput, signOptions?: SignPsbtOptions) => (await signPsbtWithResult(psbt, signOptions)).psbt,
  })
}
