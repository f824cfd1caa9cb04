/**
 * Real Bitcoin and Solana payloads for `custody policy test`: PSBTs built with bitcoinjs-lib (a library independent
 * of the enclave's @scure/btc-signer parser) and Solana transaction and off-chain messages compiled by @solana/kit,
 * each made so that one policy fact has a chosen value. Used by the CLI's policy-matrix test and the command tests.
 */
import {
  AccountRole,
  type Address,
  appendTransactionMessageInstructions,
  type Blockhash,
  compileTransactionMessage,
  compressTransactionMessageUsingAddressLookupTables,
  createTransactionMessage,
  getCompiledTransactionMessageEncoder,
  getOffchainMessageV0Encoder,
  type Instruction,
  offchainMessageApplicationDomain,
  offchainMessageContentRestrictedAsciiOf1232BytesMax,
  setTransactionMessageFeePayer,
  setTransactionMessageLifetimeUsingBlockhash,
} from '@solana/kit'
import * as bitcoin from 'bitcoinjs-lib'
import { SigningKey } from 'ethers'
import { MATRIX_SOLANA } from '../../enclave-runtime/test/support/policyMatrix.js'

export type Payload = { op: string; params: Record<string, unknown> }

// ---- Bitcoin ------------------------------------------------------------------------------------------------

/** A well-known test key (32 bytes of 0x01): never holds funds. Its compressed public key is what `--public-key` gets. */
export const BTC_TEST_PRIVATE_KEY = `0x${'01'.repeat(32)}`
export const BTC_TEST_PUBLIC_KEY = SigningKey.computePublicKey(BTC_TEST_PRIVATE_KEY, true)
const pubkey = Buffer.from(BTC_TEST_PUBLIC_KEY.slice(2), 'hex')

export type BitcoinNetworkName = 'mainnet' | 'testnet' | 'signet' | 'regtest'
const NETWORKS: Record<BitcoinNetworkName, bitcoin.networks.Network> = {
  mainnet: bitcoin.networks.bitcoin,
  testnet: bitcoin.networks.testnet,
  signet: bitcoin.networks.testnet,
  regtest: bitcoin.networks.regtest,
}

/** The key's own P2WPKH (its change) on `network`. */
export const ownP2wpkh = (network: BitcoinNetworkName = 'mainnet') => bitcoin.payments.p2wpkh({ pubkey, network: NETWORKS[network] })

/** The output script of an address (segwit by its witness program, so taproot needs no ECC library) or of `script:<hex>`. */
export function outputScript(entry: string): Uint8Array {
  if (entry.startsWith('script:')) return Buffer.from(entry.slice(7), 'hex')
  try {
    const { version, data } = bitcoin.address.fromBech32(entry)
    return Uint8Array.of(version === 0 ? 0 : 0x50 + version, data.length, ...data)
  } catch {
    const { version, hash } = bitcoin.address.fromBase58Check(entry)
    const network = Object.values(NETWORKS).find((n) => n.pubKeyHash === version || n.scriptHash === version)!
    return (version === network.pubKeyHash ? bitcoin.payments.p2pkh({ hash, network }) : bitcoin.payments.p2sh({ hash, network })).output!
  }
}

/** What the key's previous output holds: 200,000 sats. */
export const BTC_INPUT = 200_000n

/**
 * A PSBT v0 spending the key's P2WPKH output of {@link BTC_INPUT} sats to `outputs` (`[address or script:<hex>,
 * sats]`), the rest but `fee` back to the key's own P2WPKH (change; none when nothing is left). The input's amount
 * is proven by its previous transaction unless `proven` is false (a `witnessUtxo` alone).
 */
export function psbtBase64({
  outputs,
  fee,
  network = 'mainnet',
  proven = true,
  owner,
}: {
  outputs: readonly [string, bigint][]
  fee: bigint
  network?: BitcoinNetworkName
  proven?: boolean
  /** Another owner of the input (hex public key), with its BIP-32 derivation (fingerprint 0x-hex, path) for an HD account. */
  owner?: { pubkey: string; fingerprint: string; path: string }
}): string {
  const own = owner === undefined ? ownP2wpkh(network) : bitcoin.payments.p2wpkh({ pubkey: Buffer.from(owner.pubkey, 'hex'), network: NETWORKS[network] })
  const prev = new bitcoin.Transaction()
  prev.version = 2
  prev.addInput(Buffer.alloc(32, 3), 0)
  prev.addOutput(own.output!, BTC_INPUT)
  const psbt = new bitcoin.Psbt({ network: NETWORKS[network] })
  const bip32Derivation =
    owner === undefined ? [] : [{ masterFingerprint: Buffer.from(owner.fingerprint.replace(/^0x/, ''), 'hex'), path: owner.path, pubkey: Buffer.from(owner.pubkey, 'hex') }]
  psbt.addInput({
    hash: prev.getId(),
    index: 0,
    witnessUtxo: { script: own.output!, value: BTC_INPUT },
    ...(proven ? { nonWitnessUtxo: prev.toBuffer() } : {}),
    ...(bip32Derivation.length > 0 ? { bip32Derivation } : {}),
  })
  for (const [entry, value] of outputs) psbt.addOutput({ script: outputScript(entry), value })
  const change = BTC_INPUT - outputs.reduce((a, [, v]) => a + v, 0n) - fee
  if (change < 0n) throw new Error('outputs and fee exceed the input')
  if (change > 0n) psbt.addOutput({ script: own.output!, value: change })
  return psbt.toBase64()
}

/**
 * The virtual size of the final transaction of a PSBT from {@link psbtBase64} (one P2WPKH input with a 72-byte
 * signature, the given output scripts), computed from BIP-141 by hand.
 */
export function p2wpkhVsize(outputScripts: readonly Uint8Array[]): number {
  const outputs = outputScripts.reduce((a, s) => a + 8 + 1 + s.length, 0)
  const base = 4 + 1 + (32 + 4 + 1 + 4) + 1 + outputs + 4
  const witness = 2 + 1 + (1 + 72) + (1 + 33)
  return Math.ceil((base * 4 + witness) / 4)
}

export const bitcoinPayload = (psbt: string, network: BitcoinNetworkName = 'mainnet', extra: Record<string, unknown> = {}): Payload => ({
  op: 'sign.bitcoinPsbt',
  params: { psbt, network, ...extra },
})

// ---- Solana -------------------------------------------------------------------------------------------------

const SYSTEM = MATRIX_SOLANA.system as Address
const TOKEN = MATRIX_SOLANA.token as Address
/** Fixed accounts of the samples: a blockhash, a token source account, three lookup-table fillers. */
const BLOCKHASH = 'GfVcyD4kkTrj4bKc7WA9sZCin9JDbdT4Zkd3EittNR1W'
const SOURCE = 'Sysvar1nstructions1111111111111111111111111' as Address
const FILLERS = ['SysvarC1ock11111111111111111111111111111111', 'SysvarEpochSchedu1e111111111111111111111111', 'SysvarS1otHashes111111111111111111111111111'] as Address[]
/** A placeholder the sample loads through the lookup table (never a static key of the message). */
const LOADED = 'Stake11111111111111111111111111111111111111' as Address

const w = (address: Address) => ({ address, role: AccountRole.WRITABLE })
const r = (address: Address) => ({ address, role: AccountRole.READONLY })
const s = (address: Address) => ({ address, role: AccountRole.WRITABLE_SIGNER })

function u64Data(prefix: number[], amount: bigint, suffix: number[] = []): Uint8Array {
  const data = new Uint8Array(prefix.length + 8 + suffix.length)
  data.set(prefix)
  new DataView(data.buffer).setBigUint64(prefix.length, amount, true)
  data.set(suffix, prefix.length + 8)
  return data
}

/** An account or `lookup:<table>:<index>` (then the account is loaded through that table, at that index). */
type Entry = string
const parseLookup = (e: Entry) => {
  const m = /^lookup:([1-9A-HJ-NP-Za-km-z]+):(\d+)$/.exec(e)
  return m ? { table: m[1] as Address, index: Number(m[2]) } : undefined
}

/** Instruction builders; each account may be a lookup entry. */
export const sol = {
  transfer: (to: Entry, lamports: bigint, from: Address = MATRIX_SOLANA.payer as Address) => ({ programAddress: SYSTEM, accounts: [s(from), w(acct(to))], data: u64Data([2, 0, 0, 0], lamports) }),
  transferChecked: (mint: Entry, destination: Entry, amount: bigint, owner: Address = MATRIX_SOLANA.payer as Address) => ({
    programAddress: TOKEN,
    accounts: [w(SOURCE), r(acct(mint)), w(acct(destination)), s(owner)],
    data: u64Data([12], amount, [6]),
  }),
  approve: (delegate: Entry, amount: bigint, owner: Address = MATRIX_SOLANA.payer as Address) => ({ programAddress: TOKEN, accounts: [w(SOURCE), r(acct(delegate)), s(owner)], data: u64Data([4], amount) }),
  /** An instruction of `program` the enclave does not decode. */
  opaque: (program: string) => ({ programAddress: program as Address, accounts: [], data: Uint8Array.of(0xff) }),
}
/** The account an entry names in the message before compression (a lookup entry: the placeholder loaded through the table). */
const acct = (e: Entry): Address => (parseLookup(e) ? LOADED : (e as Address))

/**
 * A v0 transaction message (the bytes a Solana signer signs), compiled by @solana/kit, paid by `feePayer`; with
 * `lookup` (`lookup:<table>:<index>`), the placeholder account is loaded through that table at that index.
 */
export function solanaMessageBase64(instructions: readonly Instruction[], { feePayer = MATRIX_SOLANA.payer, lookup }: { feePayer?: string; lookup?: Entry } = {}): string {
  let m = appendTransactionMessageInstructions(
    instructions,
    setTransactionMessageLifetimeUsingBlockhash(
      { blockhash: BLOCKHASH as Blockhash, lastValidBlockHeight: 0n },
      setTransactionMessageFeePayer(feePayer as Address, createTransactionMessage({ version: 0 })),
    ),
  )
  const table = lookup === undefined ? undefined : parseLookup(lookup)
  if (table) {
    const addresses = [...FILLERS, ...FILLERS].slice(0, table.index)
    addresses.push(LOADED)
    m = compressTransactionMessageUsingAddressLookupTables(m as never, { [table.table]: addresses } as never) as typeof m
  }
  return Buffer.from(getCompiledTransactionMessageEncoder().encode(compileTransactionMessage(m))).toString('base64')
}

export const solanaTransactionPayload = (message: string): Payload => ({ op: 'sign.solanaTransaction', params: { message } })

/** A Solana off-chain message (version 0, restricted ASCII) for `signer`, encoded by @solana/kit. */
export function solanaOffchainMessageBase64(text: string, signer: string = MATRIX_SOLANA.payer): string {
  const bytes = getOffchainMessageV0Encoder().encode({
    version: 0,
    applicationDomain: offchainMessageApplicationDomain(MATRIX_SOLANA.third),
    content: offchainMessageContentRestrictedAsciiOf1232BytesMax(text),
    requiredSignatories: [{ address: signer as Address }],
  } as never)
  return Buffer.from(bytes).toString('base64')
}
