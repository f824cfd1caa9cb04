/**
 * The signing-policy matrix: every fact × every operator its type allows × allow/deny, with boundary probes
 * (the value just under, at and just over a cap; an address in another case; an absent fact). Built from
 * `POLICY_FACTS` and `OPERATORS_BY_TYPE`, so that a fact or an operator added to the contract without an entry
 * here makes {@link policyMatrixCases} throw rather than go untested.
 *
 * Each case is data: a policy as a caller writes it (JSON-safe: put it through `normalizeSigningPolicy`), the
 * facts of a payload, and the expected decision. `sample` names the kind of payload the facts describe and
 * `probe` what was varied, so that the same cases can drive the enclave over the real stack and
 * `custody policy test`.
 */
import { type FactName, type FactType, OPERATORS_BY_TYPE, type Operator, POLICY_FACTS, type PolicyFacts, type SigningPolicyInput, toChecksumAddress } from '@enclave-custody/sdk'
import { p256 } from '@noble/curves/nist.js'

/** Deterministic API public keys (P-256), compressed and uncompressed, for tests. */
export function testApiKey(n: number): { compressed: `0x${string}`; uncompressed: `0x${string}` } {
  const priv = new Uint8Array(32)
  priv[31] = n
  priv[0] = 0x42
  const hex = (b: Uint8Array) => `0x${Buffer.from(b).toString('hex')}` as const
  return { compressed: hex(p256.getPublicKey(priv, true)), uncompressed: hex(p256.getPublicKey(priv, false)) }
}

const addr = (byte: string) => toChecksumAddress(`0x${byte.repeat(20)}`)
/** Addresses of the samples (checksummed; the `a`-`f` digits make EIP-55 case visible). */
export const MATRIX_ADDRESSES = {
  recipient: addr('ab'),
  token: addr('cd'),
  tokenRecipient: addr('ef'),
  spender: addr('5e'),
  delegate: addr('de'),
  other: addr('0f'),
  third: addr('a1'),
} as const
/** Bitcoin addresses of the PSBT sample (mainnet: P2TR, P2PKH, P2WSH, P2WPKH) and a script-only output. */
export const MATRIX_BITCOIN = {
  payee: 'bc1p5e6v9v2j5wp3y6c79gaqdqltq7jdv45fswnnm7exmmp2020mqepsmcx06p',
  other: '1DT2gvYPiSGvzmZqCJj9mMs5q3K3GGm6rR',
  third: 'bc1qqh6eca3mn0mzppf69l3xz8wmpzut6xdm004asdeyfx9cg9jus0ws5qcc5r',
  fourth: 'bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4',
  script: 'script:6a03c0ffee',
} as const
/** Solana addresses of the transaction sample (base58 of 32 bytes). */
export const MATRIX_SOLANA = {
  system: '11111111111111111111111111111111',
  token: 'TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA',
  payer: 'DwiiKAQ7MXWDnCQiZcH81bF1pMyf6mYBLSKNKAxSEWzd',
  recipient: 'AKnL4NNf3DGWZJS6cPknBuEGnVsV4A4m5tgebLHaRSZ9',
  mint: 'EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v',
  destination: 'So11111111111111111111111111111111111111112',
  delegate: 'Vote111111111111111111111111111111111111111',
  other: 'ComputeBudget111111111111111111111111111111',
  third: 'SysvarRent111111111111111111111111111111111',
  lookup: 'lookup:AddressLookupTab1e1111111111111111111111111:3',
} as const
export const MATRIX_SIGNER = testApiKey(1)
export const MATRIX_OTHER_SIGNER = testApiKey(2)

/** The payloads the matrix describes, as their facts. */
export type MatrixSample = 'transaction' | 'erc20Transfer' | 'erc20Approve' | 'permit' | 'authorization' | 'psbt' | 'solanaTransaction'

const GWEI = 1_000_000_000n
/** The facts of each sample payload, as the extractors produce them (the requester is `MATRIX_SIGNER`). */
export const MATRIX_SAMPLES: Readonly<Record<MatrixSample, PolicyFacts>> = {
  transaction: {
    family: 'evm',
    kind: 'eip1559',
    chainId: 1n,
    to: MATRIX_ADDRESSES.recipient,
    value: 100_000_000_000_000_000n,
    gas: 21_000n,
    maxFeePerGas: 30n * GWEI,
    maxPriorityFeePerGas: GWEI,
    worstCaseFee: 21_000n * 30n * GWEI,
    contractCreation: false,
    call: 'none',
    signer: MATRIX_SIGNER.compressed,
  },
  erc20Transfer: {
    family: 'evm',
    kind: 'eip1559',
    chainId: 1n,
    to: MATRIX_ADDRESSES.token,
    value: 0n,
    gas: 60_000n,
    maxFeePerGas: 30n * GWEI,
    maxPriorityFeePerGas: GWEI,
    worstCaseFee: 60_000n * 30n * GWEI,
    contractCreation: false,
    selector: '0xa9059cbb',
    call: 'transfer',
    token: MATRIX_ADDRESSES.token,
    recipient: MATRIX_ADDRESSES.tokenRecipient,
    amount: 1_000_000n,
    signer: MATRIX_SIGNER.compressed,
  },
  erc20Approve: {
    family: 'evm',
    kind: 'eip1559',
    chainId: 1n,
    to: MATRIX_ADDRESSES.token,
    value: 0n,
    gas: 60_000n,
    maxFeePerGas: 30n * GWEI,
    maxPriorityFeePerGas: GWEI,
    worstCaseFee: 60_000n * 30n * GWEI,
    contractCreation: false,
    selector: '0x095ea7b3',
    call: 'approve',
    token: MATRIX_ADDRESSES.token,
    spender: MATRIX_ADDRESSES.spender,
    amount: 1_000_000n,
    signer: MATRIX_SIGNER.compressed,
  },
  permit: {
    family: 'evm',
    kind: 'typedData',
    chainId: 1n,
    domainName: 'USD Coin',
    domainVersion: '2',
    verifyingContract: MATRIX_ADDRESSES.token,
    primaryType: 'Permit',
    token: MATRIX_ADDRESSES.token,
    spender: MATRIX_ADDRESSES.spender,
    amount: 1_000_000n,
    signer: MATRIX_SIGNER.compressed,
  },
  authorization: { family: 'evm', kind: 'authorization', chainId: 1n, delegate: MATRIX_ADDRESSES.delegate, signer: MATRIX_SIGNER.compressed },
  psbt: {
    family: 'bitcoin',
    kind: 'psbt',
    network: 'mainnet',
    fee: 1_410n,
    feeRate: 10n,
    spendAmount: 120_000n,
    outputAddresses: [MATRIX_BITCOIN.payee],
    amountsProven: true,
    signer: MATRIX_SIGNER.compressed,
  },
  solanaTransaction: {
    family: 'solana',
    kind: 'solanaTransaction',
    programIds: [MATRIX_SOLANA.system],
    lamports: 3_500n,
    solRecipients: [MATRIX_SOLANA.recipient],
    tokenMints: [MATRIX_SOLANA.mint],
    tokenDestinations: [MATRIX_SOLANA.destination],
    tokenDelegates: [MATRIX_SOLANA.delegate],
    tokenAmount: 5_000n,
    feePayer: MATRIX_SOLANA.payer,
    usesLookupAccounts: false,
    undecodedInstructions: 1n,
    signer: MATRIX_SIGNER.compressed,
  },
}

/** Which sample carries each fact, and the fact's pivot (the value rules compare with) and another value. */
type Pivot = { sample: MatrixSample; pivot: bigint | string | boolean; other?: string | boolean }
const PIVOTS: Readonly<Record<FactName, Pivot>> = {
  family: { sample: 'transaction', pivot: 'evm' },
  kind: { sample: 'transaction', pivot: 'eip1559', other: 'legacy' },
  chainId: { sample: 'transaction', pivot: 1n },
  to: { sample: 'transaction', pivot: MATRIX_ADDRESSES.recipient, other: MATRIX_ADDRESSES.other },
  value: { sample: 'transaction', pivot: 100_000_000_000_000_000n },
  gas: { sample: 'transaction', pivot: 21_000n },
  maxFeePerGas: { sample: 'transaction', pivot: 30n * GWEI },
  maxPriorityFeePerGas: { sample: 'transaction', pivot: GWEI },
  worstCaseFee: { sample: 'transaction', pivot: 21_000n * 30n * GWEI },
  contractCreation: { sample: 'transaction', pivot: true, other: false },
  selector: { sample: 'erc20Transfer', pivot: '0xa9059cbb', other: '0x095ea7b3' },
  call: { sample: 'erc20Transfer', pivot: 'transfer', other: 'approve' },
  token: { sample: 'erc20Transfer', pivot: MATRIX_ADDRESSES.token, other: MATRIX_ADDRESSES.other },
  recipient: { sample: 'erc20Transfer', pivot: MATRIX_ADDRESSES.tokenRecipient, other: MATRIX_ADDRESSES.other },
  spender: { sample: 'erc20Approve', pivot: MATRIX_ADDRESSES.spender, other: MATRIX_ADDRESSES.other },
  amount: { sample: 'erc20Transfer', pivot: 1_000_000n },
  domainName: { sample: 'permit', pivot: 'USD Coin', other: 'usd coin' },
  domainVersion: { sample: 'permit', pivot: '2', other: '1' },
  verifyingContract: { sample: 'permit', pivot: MATRIX_ADDRESSES.token, other: MATRIX_ADDRESSES.other },
  primaryType: { sample: 'permit', pivot: 'Permit', other: 'Transfer' },
  delegate: { sample: 'authorization', pivot: MATRIX_ADDRESSES.delegate, other: MATRIX_ADDRESSES.other },
  signer: { sample: 'transaction', pivot: MATRIX_SIGNER.compressed, other: MATRIX_OTHER_SIGNER.compressed },
  network: { sample: 'psbt', pivot: 'mainnet', other: 'testnet' },
  fee: { sample: 'psbt', pivot: 1_410n },
  feeRate: { sample: 'psbt', pivot: 10n },
  spendAmount: { sample: 'psbt', pivot: 120_000n },
  outputAddresses: { sample: 'psbt', pivot: MATRIX_BITCOIN.payee, other: MATRIX_BITCOIN.other },
  amountsProven: { sample: 'psbt', pivot: true, other: false },
  programIds: { sample: 'solanaTransaction', pivot: MATRIX_SOLANA.system, other: MATRIX_SOLANA.token },
  lamports: { sample: 'solanaTransaction', pivot: 3_500n },
  solRecipients: { sample: 'solanaTransaction', pivot: MATRIX_SOLANA.recipient, other: MATRIX_SOLANA.other },
  tokenMints: { sample: 'solanaTransaction', pivot: MATRIX_SOLANA.mint, other: MATRIX_SOLANA.other },
  tokenDestinations: { sample: 'solanaTransaction', pivot: MATRIX_SOLANA.destination, other: MATRIX_SOLANA.other },
  tokenDelegates: { sample: 'solanaTransaction', pivot: MATRIX_SOLANA.delegate, other: MATRIX_SOLANA.other },
  tokenAmount: { sample: 'solanaTransaction', pivot: 5_000n },
  feePayer: { sample: 'solanaTransaction', pivot: MATRIX_SOLANA.payer, other: MATRIX_SOLANA.other },
  usesLookupAccounts: { sample: 'solanaTransaction', pivot: true, other: false },
  undecodedInstructions: { sample: 'solanaTransaction', pivot: 1n },
}

/** A value a probe gives the fact (`undefined`: the fact is absent) and, per operator, whether the condition holds. */
type Probe = { label: string; value: unknown; holds: Partial<Record<Operator, boolean>> }
type TypeTable = { operands: (p: Pivot) => Partial<Record<Operator, unknown>>; probes: (p: Pivot) => Probe[] }

const NONE: Partial<Record<Operator, boolean>> = { eq: false, in: false, notIn: false, lt: false, lte: false, gt: false, gte: false }
const absent: Probe = { label: 'absent', value: undefined, holds: NONE }
/** eq / in / notIn over a pivot and another value. */
const membership = (pivotProbes: Probe[], other: unknown | undefined): Probe[] => [
  ...pivotProbes,
  ...(other === undefined ? [] : [{ label: 'other', value: other, holds: { eq: false, in: false, notIn: true } }]),
  absent,
]
const hit = { eq: true, in: true, notIn: false }

/**
 * List-valued facts: the rule lists the pivot (in a non-canonical spelling where one exists) and a third value;
 * the probes are lists of the pivot, the other value, an entry that names no address, and the empty list.
 */
const listTable = (written: (pivot: string) => string, third: string, unlisted: string, inFact: (pivot: string) => string = (p) => p): TypeTable => ({
  operands: ({ pivot }) => {
    const list = [written(pivot as string), third]
    return { allIn: list, noneIn: list, anyIn: list }
  },
  probes: ({ pivot, other }) => [
    { label: 'only the listed one', value: [inFact(pivot as string)], holds: { allIn: true, noneIn: false, anyIn: true } },
    { label: 'listed and other', value: [pivot, other], holds: { allIn: false, noneIn: false, anyIn: true } },
    { label: 'only other', value: [other], holds: { allIn: false, noneIn: true, anyIn: false } },
    { label: 'an entry without an address', value: [unlisted], holds: { allIn: false, noneIn: true, anyIn: false } },
    { label: 'listed twice', value: [pivot, pivot], holds: { allIn: true, noneIn: false, anyIn: true } },
    { label: 'empty', value: [], holds: { allIn: true, noneIn: true, anyIn: false } },
    { label: 'absent', value: undefined, holds: { allIn: false, noneIn: false, anyIn: false } },
  ],
})
/** Scalar chain addresses: eq / in / notIn, written as `written` spells the pivot. */
const chainAddressTable = (written: (pivot: string) => string, third: string): TypeTable => ({
  operands: ({ pivot }) => {
    const p = written(pivot as string)
    return { eq: p, in: [third, p], notIn: [p, third] }
  },
  probes: ({ pivot, other }) => membership([{ label: 'same', value: pivot, holds: hit }], other),
})
const upperIfBech32 = (a: string) => (/^(bc|tb|bcrt)1/.test(a) ? a.toUpperCase() : a)

/** Operands as a caller writes them (in a non-canonical spelling where one exists) and the probes, per fact type. */
const TYPES: Readonly<Record<FactType, TypeTable>> = {
  uint: {
    operands: ({ pivot }) => {
      const p = (pivot as bigint).toString()
      const far = ((pivot as bigint) + 1000n).toString()
      return { eq: p, in: [far, p], notIn: [p, far], lt: p, lte: p, gt: p, gte: p }
    },
    probes: ({ pivot }) => [
      { label: 'one below', value: (pivot as bigint) - 1n, holds: { eq: false, in: false, notIn: true, lt: true, lte: true, gt: false, gte: false } },
      { label: 'exactly at', value: pivot, holds: { eq: true, in: true, notIn: false, lt: false, lte: true, gt: false, gte: true } },
      { label: 'one above', value: (pivot as bigint) + 1n, holds: { eq: false, in: false, notIn: true, lt: false, lte: false, gt: true, gte: true } },
      absent,
    ],
  },
  address: {
    // Written lower-case: the schema checksums it, the comparison ignores case.
    operands: ({ pivot }) => {
      const p = (pivot as string).toLowerCase()
      return { eq: p, in: [MATRIX_ADDRESSES.third, p], notIn: [p, MATRIX_ADDRESSES.third] }
    },
    probes: ({ pivot, other }) =>
      membership(
        [
          { label: 'checksummed', value: pivot, holds: hit },
          { label: 'lower-case', value: (pivot as string).toLowerCase(), holds: hit },
        ],
        other,
      ),
  },
  enum: {
    operands: ({ pivot }) => ({ eq: pivot, in: [pivot], notIn: [pivot] }),
    probes: ({ pivot, other }) => membership([{ label: 'same', value: pivot, holds: hit }], other),
  },
  string: {
    operands: ({ pivot }) => ({ eq: pivot, in: ['unrelated', pivot], notIn: [pivot, 'unrelated'] }),
    probes: ({ pivot, other }) => membership([{ label: 'same', value: pivot, holds: hit }], other),
  },
  bytes4: {
    // Written upper-case: the schema lower-cases it.
    operands: ({ pivot }) => {
      const p = `0x${(pivot as string).slice(2).toUpperCase()}`
      return { eq: p, in: ['0xdeadbeef', p], notIn: [p] }
    },
    probes: ({ pivot, other }) =>
      membership(
        [
          { label: 'same', value: pivot, holds: hit },
          { label: 'upper-case', value: `0x${(pivot as string).slice(2).toUpperCase()}`, holds: hit },
        ],
        other,
      ),
  },
  bool: {
    operands: ({ pivot }) => ({ eq: pivot }),
    probes: ({ pivot, other }) => [
      { label: 'same', value: pivot, holds: { eq: true } },
      { label: 'other', value: other, holds: { eq: false } },
      absent,
    ],
  },
  // Bitcoin: bech32 written upper-case (the schema lower-cases it); the fact is read in either case.
  bitcoinAddress: chainAddressTable(upperIfBech32, MATRIX_BITCOIN.third),
  'bitcoinAddress[]': listTable(upperIfBech32, MATRIX_BITCOIN.third, MATRIX_BITCOIN.script, upperIfBech32),
  // Solana: base58 has one spelling; an account loaded through a lookup table is in no list.
  solanaAddress: chainAddressTable((p) => p, MATRIX_SOLANA.third),
  'solanaAddress[]': listTable((p) => p, MATRIX_SOLANA.third, MATRIX_SOLANA.lookup),
  apiKey: {
    // Written uncompressed: the schema compresses it.
    operands: () => ({ eq: MATRIX_SIGNER.uncompressed, in: [MATRIX_SIGNER.uncompressed], notIn: [MATRIX_SIGNER.uncompressed] }),
    probes: ({ other }) =>
      membership(
        [
          { label: 'compressed', value: MATRIX_SIGNER.compressed, holds: hit },
          { label: 'uncompressed', value: MATRIX_SIGNER.uncompressed, holds: hit },
        ],
        other,
      ),
  },
}

/** One case of the matrix. */
export type PolicyMatrixCase = {
  /** A readable name: fact, operator, effect and probe. */
  name: string
  fact: FactName
  operator: Operator
  effect: 'allow' | 'deny'
  /** The sample payload whose facts the case starts from, and what it set `fact` to (`undefined`: removed). */
  sample: MatrixSample
  probe: { label: string; value: unknown }
  /** The policy, as a caller writes it (JSON-safe). */
  policy: SigningPolicyInput
  facts: PolicyFacts
  /** Whether the condition holds for this probe. */
  holds: boolean
  /** The decision: allowed or not, and the rule named (undefined: none). */
  expected: { allowed: boolean; rule: string | undefined }
}

/** Rule ids of the matrix's policies. */
export const MATRIX_RULE = 'under-test'
export const MATRIX_CATCH_ALL = 'everything-else'

/**
 * Every case: for each fact of `POLICY_FACTS`, each operator `OPERATORS_BY_TYPE` gives its type, each effect,
 * each probe. An allow case's policy is the one allow rule (so what it does not match is denied: "no rule
 * allows"); a deny case's is the deny rule followed by an allow-everything rule (so what it does not match is
 * allowed by that one). An allow rule that names no `family` allows EVM payloads only: over a Bitcoin or Solana
 * sample, the allow rule under test also names the sample's family, and the catch-all names it and `evm`; a payload
 * without the `family` fact is allowed by no rule.
 *
 * @throws Error when a fact or an operator has no entry here (the contract grew: extend the tables).
 */
export function policyMatrixCases(): PolicyMatrixCase[] {
  const cases: PolicyMatrixCase[] = []
  for (const [fact, spec] of Object.entries(POLICY_FACTS) as [FactName, (typeof POLICY_FACTS)[FactName]][]) {
    const pivot = PIVOTS[fact]
    const table = TYPES[spec.type]
    if (!pivot || !table) throw new Error(`policyMatrix: no pivot or type table for fact "${fact}" (${spec.type})`)
    const operands = table.operands(pivot)
    const probes = table.probes(pivot)
    for (const operator of OPERATORS_BY_TYPE[spec.type]) {
      if (!Object.hasOwn(operands, operator)) throw new Error(`policyMatrix: no operand for ${spec.type} operator "${operator}"`)
      for (const effect of ['allow', 'deny'] as const) {
        for (const probe of probes) {
          const holds = probe.holds[operator]
          if (holds === undefined) throw new Error(`policyMatrix: probe "${probe.label}" of ${spec.type} says nothing of "${operator}"`)
          const facts = { ...MATRIX_SAMPLES[pivot.sample] } as Record<string, unknown>
          if (probe.value === undefined) delete facts[fact]
          else facts[fact] = probe.value
          // An allow rule that names no family allows EVM payloads only: over another family's sample, the rule
          // under test and the catch-all name it (the catch-all also EVM, the payload of an absent chain fact).
          const family = MATRIX_SAMPLES[pivot.sample].family as 'evm' | 'bitcoin' | 'solana'
          const named = family !== 'evm' && fact !== 'family'
          const condition = { [fact]: { [operator]: operands[operator] } }
          const rule = { id: MATRIX_RULE, effect, when: effect === 'allow' && named ? { ...condition, family: { eq: family } } : condition }
          const catchAll = named ? { id: MATRIX_CATCH_ALL, effect: 'allow' as const, when: { family: { in: ['evm', family] } } } : { id: MATRIX_CATCH_ALL, effect: 'allow' as const }
          const policy: SigningPolicyInput = { rules: effect === 'allow' ? [rule] : [rule, catchAll] }
          // The catch-all matches a payload of its families; one without a family (the `family` fact absent) none.
          const caughtAll = (facts as PolicyFacts).family !== undefined
          const expected =
            effect === 'allow'
              ? holds
                ? { allowed: true, rule: MATRIX_RULE }
                : { allowed: false, rule: undefined }
              : holds
                ? { allowed: false, rule: MATRIX_RULE }
                : caughtAll
                  ? { allowed: true, rule: MATRIX_CATCH_ALL }
                  : { allowed: false, rule: undefined }
          cases.push({
            name: `${fact} ${operator} (${effect}), ${probe.label} → ${expected.allowed ? 'allowed' : 'denied'}`,
            fact,
            operator,
            effect,
            sample: pivot.sample,
            probe: { label: probe.label, value: probe.value },
            policy,
            facts: facts as PolicyFacts,
            holds,
            expected,
          })
        }
      }
    }
  }
  return cases
}
