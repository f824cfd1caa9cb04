/**
 * Real payloads for the signing-policy matrix (./policyMatrix.ts): for a case's fact and probe value, a signing
 * request as it goes on the wire (a transaction, an ERC-20 call encoded with viem, an EIP-2612 permit, an EIP-7702
 * authorization, a message) whose extracted fact is that value. Used by `custody policy test` (the CLI's matrix
 * test) and by the enclave over the real handler, so that both decide the same cases from the same payloads.
 */
import { canonicalApiKey, POLICY_FACTS } from '@enclave-custody/sdk'
import { encodeFunctionData, erc20Abi } from 'viem'
import { MATRIX_ADDRESSES as A, MATRIX_SAMPLES, type PolicyMatrixCase } from './policyMatrix.js'

export type Payload = { op: string; params: Record<string, unknown> }

const GWEI = 1_000_000_000n
const transaction = MATRIX_SAMPLES.transaction
export const TX = {
  chainId: '1',
  nonce: '0',
  to: A.recipient,
  value: transaction.value!.toString(),
  gas: transaction.gas!.toString(),
  maxFeePerGas: transaction.maxFeePerGas!.toString(),
  maxPriorityFeePerGas: transaction.maxPriorityFeePerGas!.toString(),
}
export const eip1559 = (fields: Record<string, unknown> = {}): Payload => ({ op: 'sign.eip1559', params: { tx: { ...TX, ...fields } } })
const creation = (): Payload => {
  const { to: _, ...tx } = TX
  return { op: 'sign.eip1559', params: { tx: { ...tx, gas: '100000', data: '0x6000' } } }
}
export const message: Payload = { op: 'sign.message', params: { message: 'hello' } }

const SAMPLE_AMOUNT = MATRIX_SAMPLES.erc20Transfer.amount!
/** An ERC-20 call to `token` (calldata by viem, an implementation independent of the enclave's decoder). */
const erc20 = (call: 'transfer' | 'approve', { token = A.token, party, amount = SAMPLE_AMOUNT }: { token?: string; party?: string; amount?: bigint } = {}): Payload => {
  const args = [(party ?? (call === 'transfer' ? A.tokenRecipient : A.spender)) as `0x${string}`, amount] as const
  return eip1559({ to: token, value: '0', gas: '60000', data: encodeFunctionData({ abi: erc20Abi, functionName: call, args }) })
}

const DOMAIN_FIELDS = [
  ['name', 'string'],
  ['version', 'string'],
  ['chainId', 'uint256'],
  ['verifyingContract', 'address'],
] as const
const PERMIT_FIELDS = [
  { name: 'owner', type: 'address' },
  { name: 'spender', type: 'address' },
  { name: 'value', type: 'uint256' },
  { name: 'nonce', type: 'uint256' },
  { name: 'deadline', type: 'uint256' },
]
/** An EIP-2612 permit of the sample's token, domain fields overridable (`undefined`: left out), or another primary type. */
export function typedData({ domain: overrides = {}, primaryType = 'Permit' }: { domain?: Record<string, unknown>; primaryType?: 'Permit' | 'Transfer' } = {}): Payload {
  const permit = MATRIX_SAMPLES.permit
  const domain = Object.fromEntries(
    Object.entries({ name: permit.domainName, version: permit.domainVersion, chainId: '1', verifyingContract: permit.verifyingContract, ...overrides }).filter(([, v]) => v !== undefined),
  )
  const EIP712Domain = DOMAIN_FIELDS.filter(([name]) => name in domain).map(([name, type]) => ({ name, type }))
  const body =
    primaryType === 'Permit'
      ? { types: { EIP712Domain, Permit: PERMIT_FIELDS }, message: { owner: A.other, spender: A.spender, value: SAMPLE_AMOUNT.toString(), nonce: '0', deadline: '1893456000' } }
      : { types: { EIP712Domain, Transfer: [{ name: 'to', type: 'address' }, { name: 'amount', type: 'uint256' }] }, message: { to: A.other, amount: '1' } }
  return { op: 'sign.typedData', params: { typedData: { domain, primaryType, ...body } } }
}
export const authorization = (fields: Record<string, unknown> = {}): Payload => ({ op: 'sign.authorization', params: { authorization: { chainId: '1', address: A.delegate, nonce: '0', ...fields } } })

/**
 * gas × maxFeePerGas = `fee`: a gas limit of a usual size dividing `fee`, else `fee` gas at 1 wei (the wire takes gas
 * limits up to 2^64 - 1), or `undefined` below 21,000.
 */
function feeSplit(fee: bigint): { gas: bigint; maxFeePerGas: bigint } | undefined {
  for (let gas = 21_000n; gas <= 1_000_000n; gas++) if (fee % gas === 0n && fee / gas >= GWEI) return { gas, maxFeePerGas: fee / gas }
  return fee >= 21_000n ? { gas: fee, maxFeePerGas: 1n } : undefined
}

/**
 * A payload whose fact `fact` is `value` (`undefined`: a payload without that fact), or `undefined` when no payload
 * can have it so. The signer is not in the payload: it is `--signer`.
 */
export function payloadFor(fact: string, value: unknown): Payload | undefined {
  const absent = value === undefined
  // The probe's value, read as the fact's type.
  const v = value as string
  const n = value as bigint
  switch (fact) {
    case 'family':
      return absent ? undefined : eip1559()
    case 'kind':
      if (absent) return undefined
      if (v === 'legacy') return { op: 'sign.transaction', params: { tx: { type: 'legacy', chainId: '1', nonce: '0', to: A.recipient, value: '1', gas: '21000', gasPrice: '1000000000' } } }
      return eip1559()
    case 'chainId':
      if (absent) return message
      // Chain id 0 exists only as an authorization for every chain.
      return n === 0n ? authorization({ chainId: '0', allowAnyChain: true }) : eip1559({ chainId: n.toString() })
    case 'to':
      return absent ? creation() : eip1559({ to: v })
    case 'gas':
      return absent ? message : n < 21_000n ? undefined : eip1559({ gas: n.toString() })
    case 'value':
    case 'maxFeePerGas':
    case 'maxPriorityFeePerGas':
      return absent ? message : eip1559({ [fact]: n.toString() })
    case 'worstCaseFee': {
      if (absent) return message
      const split = feeSplit(n)
      return split && eip1559({ gas: split.gas.toString(), maxFeePerGas: split.maxFeePerGas.toString(), maxPriorityFeePerGas: '1' })
    }
    case 'contractCreation':
      return absent ? message : value === true ? creation() : eip1559()
    case 'selector': {
      if (absent) return eip1559()
      const call = erc20('transfer')
      const data = (call.params.tx as { data: string }).data
      return eip1559({ ...(call.params.tx as object), data: `${v}${data.slice(10)}` })
    }
    case 'call':
      return absent ? message : erc20(v as 'transfer' | 'approve')
    case 'token':
      return absent ? eip1559() : erc20('transfer', { token: v })
    case 'recipient':
      return absent ? erc20('approve') : erc20('transfer', { party: v })
    case 'spender':
      return absent ? erc20('transfer') : erc20('approve', { party: v })
    case 'amount':
      return absent ? eip1559() : erc20('transfer', { amount: n })
    case 'domainName':
      return typedData({ domain: { name: absent ? undefined : v } })
    case 'domainVersion':
      return typedData({ domain: { version: absent ? undefined : v } })
    case 'verifyingContract':
      return typedData({ domain: { verifyingContract: absent ? undefined : v } })
    case 'primaryType':
      return absent ? message : typedData({ primaryType: v as 'Permit' | 'Transfer' })
    case 'delegate':
      return absent ? eip1559() : authorization({ address: v })
    case 'signer':
      return eip1559()
    default:
      // Bitcoin and Solana facts: no signing operation of the protocol carries a PSBT or a Solana message yet.
      if (BITCOIN_OR_SOLANA_FACTS.has(fact)) return undefined
      throw new Error(`no payload for fact ${fact}`)
  }
}

/** A fact's value as the CLI prints it, for comparison: addresses and selectors lower-case, keys compressed. */
export function printed(fact: string, value: unknown): unknown {
  if (value === undefined) return undefined
  const type = POLICY_FACTS[fact as keyof typeof POLICY_FACTS].type
  if (type === 'uint') return (value as bigint).toString()
  if (type === 'address' || type === 'bytes4') return (value as string).toLowerCase()
  if (type === 'apiKey') return canonicalApiKey(value, 'signer')
  return value
}

/** The facts of the Bitcoin and Solana samples (the matrix decides them over facts, not payloads, for now). */
const BITCOIN_OR_SOLANA_FACTS = new Set(
  (['psbt', 'solanaTransaction'] as const).flatMap((sample) => Object.keys(MATRIX_SAMPLES[sample]).filter((f) => !['family', 'kind', 'signer'].includes(f))),
)

/**
 * Cases no payload can express: no payload lacks a chain family or a kind, and no transaction has a gas limit below
 * 21,000 (the matrix's gas pivot), which the protocol refuses. Nothing else may be missing — except the Bitcoin
 * and Solana facts: until the protocol has signing operations for PSBTs and Solana messages, no wire payload
 * carries them (their cases are decided over facts by policy-evaluate.test.ts and over real PSBTs and messages
 * by policyFamilies.test.ts).
 */
export const INEXPRESSIBLE = (c: PolicyMatrixCase) =>
  ((c.fact === 'family' || c.fact === 'kind') && c.probe.value === undefined) || (c.fact === 'gas' && c.probe.label === 'one below') || BITCOIN_OR_SOLANA_FACTS.has(c.fact)

