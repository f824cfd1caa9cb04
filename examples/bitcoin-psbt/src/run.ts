/**
 * The example's flow, on any custody client, for Bitcoin regtest:
 *
 * 1. an HD wallet whose BIP-39 entropy the enclave draws (the mnemonic never leaves it);
 * 2. its first Bitcoin account on regtest, derived in the enclave at m/84'/1'/0'/0/0 (P2WPKH, bcrt1q…);
 * 3. the wallet's signing policy: regtest PSBTs paying one address only, with proven input amounts, at most
 *    20 sat/vB and 0.001 BTC leaving per PSBT (change back to the account is not counted);
 * 4. a PSBT built with bitcoinjs-lib that spends a coin of the account (the previous transaction in full:
 *    the amount is proven), pays 30,000 sats and sends the rest back as change; the enclave signs it, and
 *    bitcoinjs-lib finalizes the signed PSBT and extracts the transaction — the same bytes the enclave's own
 *    `finalize: true` gives;
 * 5. a PSBT paying another address, refused by the enclave (POLICY_DENIED) before any signature.
 *
 * There is no regtest node here: the coin is a transaction made up for the example, which the PSBT carries
 * as its `nonWitnessUtxo`. Against bitcoind, take it from `getrawtransaction` and broadcast the result with
 * `sendrawtransaction`.
 */
import { type CustodyClient, isCustodyError, type KeyInfo } from '@enclave-custody/sdk'
import * as bitcoin from 'bitcoinjs-lib'

export const NETWORK = bitcoin.networks.regtest
/** What the coin the account spends holds, in satoshis. */
export const COIN_VALUE = 100_000n
/** What the PSBT pays, and what it leaves as fee (the rest is change). */
export const PAYMENT = 30_000n
export const FEE = 1_000n

export type RunParameters = {
  /** A custody client (`createCustodyClient`) whose API key owns what it creates. */
  custody: CustodyClient
  /** Who the wallet may pay: a regtest address (the policy's only payee). */
  to: string
  /** An address the policy does not list: the refused PSBT pays it. */
  other: string
  log?: (line: string) => void
}

export type RunResult = {
  wallet: KeyInfo
  account: KeyInfo
  /** The final transaction (hex) and its txid, as bitcoinjs-lib extracted them from the signed PSBT. */
  transaction: string
  txid: string
  /** The enclave's own finalization (`finalize: true`) gave the same transaction. */
  sameAsEnclaveFinalized: boolean
  /** The refusal of the PSBT paying `other`: its error code. */
  refused: string
}

/** A made-up transaction with one output of `value` to `script`: the coin the account spends. */
function coin(script: Uint8Array, value: bigint): bitcoin.Transaction {
  const tx = new bitcoin.Transaction()
  tx.addInput(new Uint8Array(32).fill(0xc0), 0)
  tx.addOutput(script, value)
  return tx
}

/** A PSBT spending `prev`'s output 0 (amount proven by the whole previous transaction), paying `to`, change back to `change`. */
function paymentPsbt(prev: bitcoin.Transaction, to: string, change: string): bitcoin.Psbt {
  const psbt = new bitcoin.Psbt({ network: NETWORK })
  psbt.addInput({ hash: prev.getHash(), index: 0, nonWitnessUtxo: prev.toBuffer(), witnessUtxo: { script: prev.outs[0]!.script, value: prev.outs[0]!.value } })
  psbt.addOutput({ address: to, value: PAYMENT })
  psbt.addOutput({ address: change, value: COIN_VALUE - PAYMENT - FEE })
  return psbt
}

export async function run({ custody, to, other, log = console.log }: RunParameters): Promise<RunResult> {
  const wallet = await custody.createWallet()
  log(`1. wallet ${wallet.keyId} (master fingerprint ${wallet.fingerprint}): its mnemonic was drawn in the enclave and never left it`)

  const account = await custody.createAccount(wallet.keyId, { family: 'bitcoin', network: 'regtest' })
  log(`2. Bitcoin account ${account.keyId} at ${account.path} (${account.network}, ${account.format}): ${account.address}`)

  // The policy is the wallet's: it binds every account derived from it (setting it on an account is refused).
  const policy = await custody.setSigningPolicy(wallet.keyId, {
    rules: [
      {
        id: 'pay-the-payee',
        effect: 'allow',
        when: {
          family: { eq: 'bitcoin' },
          network: { eq: 'regtest' },
          outputAddresses: { allIn: [to] },
          amountsProven: { eq: true },
          feeRate: { lte: '20' },
          spendAmount: { lte: '100000' },
        },
      },
    ],
  })
  log(`3. wallet signing policy v${policy.version}: regtest PSBTs paying ${to} only, proven amounts, ≤ 20 sat/vB, ≤ 100000 sats`)

  const prev = coin(bitcoin.address.toOutputScript(account.address, NETWORK), COIN_VALUE)
  const unsigned = paymentPsbt(prev, to, account.address).toBase64()
  // The SDK checks the answer before returning it: the PSBT unchanged but for the key's signatures, each
  // verified over the sighash the SDK computes itself.
  const signed = await custody.signBitcoinPsbt(account.keyId, { psbt: unsigned, network: 'regtest' })
  const psbt = bitcoin.Psbt.fromBase64(signed.psbt, { network: NETWORK })
  psbt.finalizeAllInputs()
  const tx = psbt.extractTransaction()
  const transaction = tx.toHex()
  const txid = tx.getId()
  log(`4. signed input(s) ${signed.signedInputs.join(', ')} in the enclave; bitcoinjs-lib finalized it: txid ${txid}, fee ${psbt.getFee()} sats (${psbt.getFeeRate()} sat/vB)`)

  // ECDSA signatures are deterministic (RFC 6979): the enclave's own finalization gives the same bytes.
  const finalized = await custody.signBitcoinPsbt(account.keyId, { psbt: unsigned, network: 'regtest', finalize: true })
  const sameAsEnclaveFinalized = finalized.transaction === transaction && finalized.txid === txid
  log(`   the enclave's own finalize: true gives the same transaction: ${sameAsEnclaveFinalized}`)

  let refused = 'signed'
  try {
    await custody.signBitcoinPsbt(account.keyId, { psbt: paymentPsbt(prev, other, account.address).toBase64(), network: 'regtest' })
  } catch (e) {
    if (!isCustodyError(e, 'POLICY_DENIED')) throw e
    refused = e.code
    log(`5. refused a PSBT paying ${other}: ${e.code} (${e.shortMessage})`)
  }
  if (refused === 'signed') throw new Error('the enclave signed a payment to an address the policy does not list')

  return { wallet, account, transaction, txid, sameAsEnclaveFinalized, refused }
}
