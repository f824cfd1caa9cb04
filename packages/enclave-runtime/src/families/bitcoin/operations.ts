import { InternalError, InvalidArgumentError, isCustodyError, type KeyPolicy, PolicyDeniedError } from '@enclave-custody/sdk'
import type { OperationParams } from '@enclave-custody/sdk/protocol'
import { HDKey } from '@scure/bip32'
import type { SigningKey, SigningOperations, SigningSecret } from '../types.js'
import type { BitcoinPublicKeys, BitcoinSigningKeys } from './keys.js'
import { bitcoinPolicyFacts } from './policyFacts.js'
import { inspectBitcoinPsbt, signBitcoinPsbt } from './psbt.js'

type Params = OperationParams<'sign.bitcoinPsbt'>
type Account = NonNullable<SigningKey['bitcoinAccount']>

/** The sighash type every input may use without the key's `allowBitcoinSighashTypes` (and DEFAULT on taproot). */
const SIGHASH_ALL = 0x01


/** The account's network must be the request's: an account's addresses and coin type belong to one network. */
function checkNetwork(account: Account, network: Params['network']): void {
  if (network !== account.network) throw new InvalidArgumentError({ field: 'network', rule: `must be ${account.network}: the key is a Bitcoin account on ${account.network}` })
}

/** A Bitcoin account of an HD wallet signs on its own network only. */
function checkLeafNetwork(key: SigningKey, network: Params['network']): void {
  if (key.bitcoinNetwork !== undefined && network !== key.bitcoinNetwork) {
    throw new InvalidArgumentError({ field: 'network', rule: `must be ${key.bitcoinNetwork}: the key is a Bitcoin account on ${key.bitcoinNetwork}` })
  }
}

/** Indices of `path` below the account's path, each unhardened (what the account's extended public key derives). */
function indicesBelow(accountPath: string, path: string): number[] {
  const norm = (p: string) => p.replaceAll('h', "'")
  const prefix = `${norm(accountPath)}/`
  if (!norm(path).startsWith(prefix)) throw new Error('the path is not below the account')
  return norm(path)
    .slice(prefix.length)
    .split('/')
    .map((step) => {
      if (!/^(?:0|[1-9][0-9]{0,9})$/.test(step) || Number(step) >= 0x80000000) throw new Error('the path is hardened below the account')
      return Number(step)
    })
}

/**
 * The public side of the request's keys: the key's compressed public key, or — for an HD account — its fingerprint
 * and the public derivation of its extended public key (paths below the account, unhardened).
 */
function publicKeysOf(key: SigningKey, network: Params['network']): BitcoinPublicKeys {
  checkLeafNetwork(key, network)
  const account = key.bitcoinAccount
  if (account === undefined) return { publicKey: key.publicKey() }
  checkNetwork(account, network)
  const root = new HDKey({ publicKey: account.publicKey, chainCode: account.chainCode })
  const nodes = new Map<string, HDKey>()
  return {
    fingerprint: account.fingerprint,
    derivePublicKey(path) {
      let node = nodes.get(path)
      if (node === undefined) {
        node = indicesBelow(account.path, path).reduce((n, i) => n.deriveChild(i), root)
        nodes.set(path, node)
      }
      return node.publicKey!
    },
  }
}

/** The request's signing keys: the plain key, or the HD account's fingerprint and private derivation. */
function signingKeysOf(secret: SigningSecret, key: SigningKey, network: Params['network']): BitcoinSigningKeys {
  checkLeafNetwork(key, network)
  const account = key.bitcoinAccount
  if (account === undefined) return secret.privateKey
  checkNetwork(account, network)
  const { derive } = secret
  if (typeof derive !== 'function') throw new InternalError({ reason: 'the unsealed Bitcoin account has no derivation' })
  return { fingerprint: account.fingerprint, derive: (path) => derive(path) }
}

/**
 * The request's `allow`, as far as the key's sealed flags grant it, and the flags it asked for in vain. SIGHASH_ALL
 * is always allowed, so asking for it needs no flag.
 */
function effectiveAllow(allow: Params['allow'], policy: KeyPolicy): { allow: NonNullable<Params['allow']>; withheld: { unproven: boolean; sighash: boolean } } {
  const unproven = allow?.unprovenSegwitAmounts === true
  const extra = (allow?.sighashTypes ?? []).filter((t) => t !== SIGHASH_ALL)
  const grantUnproven = unproven && policy.allowUnprovenBitcoinAmounts
  const grantSighash = extra.length > 0 && policy.allowBitcoinSighashTypes
  return {
    allow: { ...(grantUnproven ? { unprovenSegwitAmounts: true } : {}), ...(grantSighash ? { sighashTypes: extra } : {}) },
    withheld: { unproven: unproven && !grantUnproven, sighash: extra.length > 0 && !grantSighash },
  }
}

/**
 * The Bitcoin family's signing operation: a PSBT v0 (BIP-174) whose inputs the key owns (P2PKH, P2SH-P2WPKH,
 * P2WPKH, P2TR key path) is signed, optionally finalized and extracted. Facts come from the PSBT and the key's
 * public side (its own outputs are change); an HD account (`key.bitcoinAccount`) signs the inputs whose
 * derivation records name its fingerprint, on its own network only.
 *
 * The request's `allow` widens what the core accepts only as far as the key's sealed flags do:
 * `allow.unprovenSegwitAmounts` needs `allowUnprovenBitcoinAmounts`, `allow.sighashTypes` (other than ALL) needs
 * `allowBitcoinSighashTypes`. A PSBT that needs a widening the key does not grant is refused with
 * `PolicyDeniedError` naming the flag; one that does not need it is signed as if it had not been asked.
 *
 * Result: `{ psbt, signedInputs, transaction?, txid? }` (the signed PSBT in base64, the indices signed ascending,
 * and with `finalize` the final transaction in lower-case hex and its txid).
 */
export const BITCOIN_OPERATIONS: SigningOperations<'sign.bitcoinPsbt'> = {
  'sign.bitcoinPsbt': {
    family: 'bitcoin',
    facts: (params, key) => {
      const { psbt, network, finalize = false, allow } = params
      const plan = inspectBitcoinPsbt({ psbt, network, finalize, keys: publicKeysOf(key, network), ...(allow === undefined ? {} : { allow }) })
      const facts = bitcoinPolicyFacts(plan.facts)
      // A PSBT proves no network (its scripts are the same on all of them): the fact is the key's sealed network (a
      // Bitcoin account's), never what the request declares. A plain key's payload has no network fact.
      if (key.bitcoinNetwork === undefined && key.bitcoinAccount === undefined) delete facts.network
      return facts
    },
    sign: (secret, params, { policy, key }) => {
      const { psbt, network, finalize = false } = params
      const { allow, withheld } = effectiveAllow(params.allow, policy)
      let signed: ReturnType<typeof signBitcoinPsbt>
      try {
        signed = signBitcoinPsbt({ psbt, network, finalize, allow, keys: signingKeysOf(secret, key, network) })
      } catch (e) {
        // The core's refusal of an unproven amount names `inputs[i].nonWitnessUtxo`; of a sighash type, `inputs[i].sighashType`.
        const field = isCustodyError(e, 'INVALID_ARGUMENT') ? String(e.details?.field ?? '') : ''
        if (withheld.unproven && field.endsWith('.nonWitnessUtxo')) {
          throw new PolicyDeniedError({ reason: "the key's policy does not allow Bitcoin inputs whose amount only a witnessUtxo states (allow.unprovenSegwitAmounts); import it with policy.allowUnprovenBitcoinAmounts" })
        }
        if (withheld.sighash && field.endsWith('.sighashType')) {
          throw new PolicyDeniedError({ reason: "the key's policy does not allow Bitcoin sighash types other than ALL (allow.sighashTypes); import it with policy.allowBitcoinSighashTypes" })
        }
        throw e
      }
      return {
        psbt: signed.psbt,
        signedInputs: signed.signedInputs,
        ...(signed.transaction === undefined ? {} : { transaction: signed.transaction, txid: signed.txid }),
      }
    },
  },
}
