import type { Address } from '../utils/address.js'
import type { Hex } from '../utils/hex.js'

/**
 * What a payload is, as a policy sees it. EVM: `legacy` … `eip7702` are transactions of type 0, 1, 2 and 4;
 * `authorization` an EIP-7702 authorization; `message` EIP-191 personal_sign; `typedData` EIP-712; `digest`
 * a raw 32-byte digest (only for keys sealed with `allowRawDigest`). Bitcoin: `psbt` a BIP-174 PSBT. Solana:
 * `solanaTransaction` a transaction message (legacy or v0), `solanaMessage` an off-chain message.
 */
export const PAYLOAD_KINDS = ['legacy', 'eip2930', 'eip1559', 'eip7702', 'authorization', 'message', 'typedData', 'digest', 'psbt', 'solanaTransaction', 'solanaMessage'] as const
export type PayloadKind = (typeof PAYLOAD_KINDS)[number]

/**
 * What a transaction's calldata calls, as far as the enclave decodes it: `none` (no calldata), the ERC-20
 * `transfer` / `approve` / `transferFrom` (whose arguments decoded strictly), or `unknown` (any other selector,
 * or fewer than 4 bytes of calldata).
 */
export const CALL_KINDS = ['none', 'transfer', 'approve', 'transferFrom', 'unknown'] as const
export type CallKind = (typeof CALL_KINDS)[number]

export const CHAIN_FAMILIES = ['evm', 'bitcoin', 'solana'] as const
export type ChainFamily = (typeof CHAIN_FAMILIES)[number]

/** The Bitcoin networks a PSBT is signed for (the `network` fact). */
export const POLICY_BITCOIN_NETWORKS = ['mainnet', 'testnet', 'signet', 'regtest'] as const
export type PolicyBitcoinNetwork = (typeof POLICY_BITCOIN_NETWORKS)[number]

/**
 * The typed facts the enclave extracts from a payload before it signs it; a policy's conditions name them.
 * A fact a payload does not have is absent (a message has no `to`), and a condition on an absent fact is
 * false: `{ to: { notIn: [...] } }` does not match a message.
 *
 * Addresses are EIP-55 checksummed; API keys compressed P-256 points, lower-case 0x-hex; amounts bigints.
 * Bitcoin addresses as `@scure/btc-signer` encodes them (bech32 lower-case, Base58Check); Solana addresses base58.
 *
 * The EVM facts (`chainId` … `delegate`) are absent from Bitcoin and Solana payloads, and the Bitcoin and Solana
 * facts from every other family's: `amount`, `recipient`, `to` and `value` mean EVM only.
 */
export type PolicyFacts = {
  family: ChainFamily
  kind: PayloadKind
  /** The transaction's chain, the authorization's (0 = every chain), or the EIP-712 domain's. */
  chainId?: bigint
  /** The transaction's destination (absent for a contract creation). */
  to?: Address
  /** Native value moved by a transaction, in wei. */
  value?: bigint
  /** Gas limit of a transaction. */
  gas?: bigint
  /** Max fee per gas (EIP-1559, EIP-7702), or the gas price (legacy, EIP-2930). */
  maxFeePerGas?: bigint
  /** Max priority fee per gas (EIP-1559, EIP-7702), or the gas price (legacy, EIP-2930). */
  maxPriorityFeePerGas?: bigint
  /** gas × maxFeePerGas: the most a transaction can pay in fees. */
  worstCaseFee?: bigint
  /** Whether a transaction creates a contract (no `to`). */
  contractCreation?: boolean
  /** The first 4 bytes of a transaction's calldata, lower-case 0x-hex (absent with fewer than 4 bytes). */
  selector?: Hex
  /** What the calldata calls (transactions only). */
  call?: CallKind
  /** The ERC-20 contract of a decoded transfer/approve/transferFrom, or an EIP-2612 permit's verifying contract. */
  token?: Address
  /** The token recipient of `transfer` / `transferFrom`. */
  recipient?: Address
  /** The spender of `approve`, or of an EIP-2612 `Permit`. */
  spender?: Address
  /** The token amount of `transfer` / `approve` / `transferFrom`, or an EIP-2612 permit's `value`. */
  amount?: bigint
  /** EIP-712 domain fields and primary type. */
  domainName?: string
  domainVersion?: string
  verifyingContract?: Address
  primaryType?: string
  /** The address an EIP-7702 authorization delegates the account's code to. */
  delegate?: Address
  /** The API key that stamped the request (set by the handler, not by an extractor). */
  signer?: Hex

  // ---- Bitcoin (family `bitcoin`, kind `psbt`) ----
  /** The network the PSBT is signed for. */
  network?: PolicyBitcoinNetwork
  /** inputs − outputs, in satoshis. */
  fee?: bigint
  /** ceil(fee / estimated vsize), sat/vB. */
  feeRate?: bigint
  /** Sum of the outputs that are not change (what leaves the key), in satoshis. */
  spendAmount?: bigint
  /**
   * The non-change outputs, each by its address, or `script:<hex>` (its output script) for an output without one
   * (OP_RETURN, bare multisig, P2PK, …): an allowlist of addresses never passes it silently.
   */
  outputAddresses?: readonly string[]
  /** Whether every input amount is proven (a `nonWitnessUtxo`, or a taproot signature committing to all amounts). */
  amountsProven?: boolean

  // ---- Solana (family `solana`, kind `solanaTransaction`; an off-chain message has only family and kind) ----
  /** Every top-level program the transaction invokes (always static keys). */
  programIds?: readonly string[]
  /** Sum of the lamports of all System Program transfers. */
  lamports?: bigint
  /** The recipients of System Program transfers; one loaded through a lookup table is `lookup:<table>:<index>`. */
  solRecipients?: readonly string[]
  /** The mints of token transfers and approvals: `unchecked:<instruction>` for `transfer` / `approve` (which name none), `lookup:<table>:<index>` for one loaded through a table. */
  tokenMints?: readonly string[]
  /** The destination token accounts of token transfers (`lookup:<table>:<index>` when loaded through a table). */
  tokenDestinations?: readonly string[]
  /** The delegates of token approvals (`lookup:<table>:<index>` when loaded through a table). */
  tokenDelegates?: readonly string[]
  /** Sum of the amounts of all token transfers and approvals, in base units (whatever their mints). */
  tokenAmount?: bigint
  /** The fee payer (the first static key). */
  feePayer?: string
  /** Whether any instruction names an account loaded through a v0 lookup table. */
  usesLookupAccounts?: boolean
  /** How many instructions the enclave does not decode (anything but System transfers and token transfers / approvals). */
  undecodedInstructions?: bigint
}

export type FactName = keyof PolicyFacts

/**
 * How a fact's values are written in a rule and compared. `bitcoinAddress[]` and `solanaAddress[]` are lists (a
 * payload's outputs, programs, recipients…), compared with the list operators `allIn`, `noneIn` and `anyIn`.
 */
export type FactType = 'uint' | 'address' | 'enum' | 'string' | 'bytes4' | 'bool' | 'apiKey' | 'bitcoinAddress' | 'solanaAddress' | 'bitcoinAddress[]' | 'solanaAddress[]'

/**
 * `eq` … `gte` compare one value; `allIn` (every element of the fact is listed; an empty fact holds), `noneIn` (no
 * element is listed) and `anyIn` (some element is) compare a list-valued fact with a list.
 */
export const OPERATORS = ['eq', 'in', 'notIn', 'lt', 'lte', 'gt', 'gte', 'allIn', 'noneIn', 'anyIn'] as const
export type Operator = (typeof OPERATORS)[number]
/** The operators that take a list of values. */
export const LIST_VALUE_OPERATORS: readonly Operator[] = ['in', 'notIn', 'allIn', 'noneIn', 'anyIn']

/** The operators each fact type accepts. */
export const OPERATORS_BY_TYPE: Readonly<Record<FactType, readonly Operator[]>> = {
  uint: ['eq', 'in', 'notIn', 'lt', 'lte', 'gt', 'gte'],
  address: ['eq', 'in', 'notIn'],
  enum: ['eq', 'in', 'notIn'],
  string: ['eq', 'in', 'notIn'],
  bytes4: ['eq', 'in', 'notIn'],
  bool: ['eq'],
  apiKey: ['eq', 'in', 'notIn'],
  bitcoinAddress: ['eq', 'in', 'notIn'],
  solanaAddress: ['eq', 'in', 'notIn'],
  'bitcoinAddress[]': ['allIn', 'noneIn', 'anyIn'],
  'solanaAddress[]': ['allIn', 'noneIn', 'anyIn'],
}

export type FactSpec = { type: FactType; values?: readonly string[]; help: string }

/** Every fact a rule may name: its type, its values (enums) and what it means. */
export const POLICY_FACTS: Readonly<Record<FactName, FactSpec>> = {
  family: { type: 'enum', values: CHAIN_FAMILIES, help: 'chain family of the payload' },
  kind: { type: 'enum', values: PAYLOAD_KINDS, help: 'what is signed: a transaction type, an authorization, a message, typed data, a digest, a PSBT or a Solana transaction or message' },
  chainId: { type: 'uint', help: 'chain id of the transaction, authorization (0 = every chain) or EIP-712 domain' },
  to: { type: 'address', help: 'destination of a transaction' },
  value: { type: 'uint', help: 'native value of a transaction, in wei' },
  gas: { type: 'uint', help: 'gas limit of a transaction' },
  maxFeePerGas: { type: 'uint', help: 'max fee per gas (gas price for type 0 and 1), in wei' },
  maxPriorityFeePerGas: { type: 'uint', help: 'max priority fee per gas (gas price for type 0 and 1), in wei' },
  worstCaseFee: { type: 'uint', help: 'gas × max fee per gas, in wei' },
  contractCreation: { type: 'bool', help: 'whether a transaction creates a contract' },
  selector: { type: 'bytes4', help: 'first 4 bytes of a transaction\'s calldata' },
  call: { type: 'enum', values: CALL_KINDS, help: 'none | transfer | approve | transferFrom | unknown' },
  token: { type: 'address', help: 'ERC-20 contract of a transfer/approve/transferFrom, or of an EIP-2612 permit' },
  recipient: { type: 'address', help: 'token recipient of transfer / transferFrom' },
  spender: { type: 'address', help: 'spender of approve or of an EIP-2612 permit' },
  amount: { type: 'uint', help: 'token amount of transfer / approve / transferFrom / permit (base units)' },
  domainName: { type: 'string', help: 'EIP-712 domain name' },
  domainVersion: { type: 'string', help: 'EIP-712 domain version' },
  verifyingContract: { type: 'address', help: 'EIP-712 domain verifying contract' },
  primaryType: { type: 'string', help: 'EIP-712 primary type' },
  delegate: { type: 'address', help: 'address an EIP-7702 authorization delegates to' },
  signer: { type: 'apiKey', help: 'API key that stamped the request' },
  network: { type: 'enum', values: POLICY_BITCOIN_NETWORKS, help: "Bitcoin: the signing account's sealed network (absent for a plain key: a PSBT proves none)" },
  fee: { type: 'uint', help: 'Bitcoin: inputs − outputs, in satoshis' },
  feeRate: { type: 'uint', help: 'Bitcoin: fee ÷ estimated vsize, rounded up, in sat/vB' },
  spendAmount: { type: 'uint', help: 'Bitcoin: sum of the non-change outputs, in satoshis' },
  outputAddresses: { type: 'bitcoinAddress[]', help: 'Bitcoin: addresses of the non-change outputs (script:<hex> for an output without one)' },
  amountsProven: { type: 'bool', help: 'Bitcoin: whether every input amount is proven (nonWitnessUtxo, or a taproot sighash over all amounts)' },
  programIds: { type: 'solanaAddress[]', help: 'Solana: every top-level program the transaction invokes' },
  lamports: { type: 'uint', help: 'Solana: sum of the lamports of all System Program transfers' },
  solRecipients: { type: 'solanaAddress[]', help: 'Solana: recipients of System Program transfers (lookup:<table>:<index> when loaded through a lookup table)' },
  tokenMints: { type: 'solanaAddress[]', help: 'Solana: mints of token transfers and approvals (unchecked:<instruction> for transfer/approve, which name none)' },
  tokenDestinations: { type: 'solanaAddress[]', help: 'Solana: destination token accounts of token transfers' },
  tokenDelegates: { type: 'solanaAddress[]', help: 'Solana: delegates of token approvals' },
  tokenAmount: { type: 'uint', help: 'Solana: sum of the amounts of token transfers and approvals, in base units of any mint' },
  feePayer: { type: 'solanaAddress', help: 'Solana: fee payer of the transaction' },
  usesLookupAccounts: { type: 'bool', help: 'Solana: whether any instruction names an account loaded through a lookup table' },
  undecodedInstructions: { type: 'uint', help: 'Solana: number of instructions that are not System transfers or token transfers/approvals' },
}

export const FACT_NAMES = Object.keys(POLICY_FACTS) as FactName[]
