/**
 * Policy facts, one extractor per payload kind and the registry that maps signing operations to them:
 * a table of every kind (exact facts, no key for an absent fact), strict ERC-20 calldata decoding
 * cross-checked against viem and ethers, malformed ERC-20 arguments refused (never classified), and
 * EIP-2612 permits told apart from DAI's permit and Permit2.
 */
import {
  bytesToHex,
  CALL_KINDS,
  encodeType,
  FACT_NAMES,
  type Hex,
  hashTypedData as hashNormalizedTypedData,
  InvalidArgumentError,
  isCustodyError,
  normalizeAuthorizationRequest,
  normalizeEip1559Transaction,
  normalizePersonalMessage,
  normalizeTransactionRequest,
  normalizeTypedData,
  PAYLOAD_KINDS,
  type PolicyFacts,
} from '@enclave-custody/sdk'
import { operationNames, PROTOCOL_VERSION, parseRequest } from '@enclave-custody/sdk/protocol'
import { Interface } from 'ethers'
import fc from 'fast-check'
import { decodeFunctionData, encodeFunctionData, erc20Abi, getAddress, hashTypedData, keccak256, toFunctionSelector, toHex } from 'viem'
import { describe, expect, it } from 'vitest'
import { signAuthorization } from '../src/families/evm/authorization.js'
import { authorizationFacts } from '../src/families/evm/authorizationFacts.js'
import { decodeErc20Call, ERC20_SELECTORS } from '../src/families/evm/erc20Calldata.js'
import { extractFacts, SIGNING_OPERATIONS } from '../src/families/index.js'
import { hashFacts } from '../src/families/evm/hashFacts.js'
import { messageFacts } from '../src/families/evm/messageFacts.js'
import { transactionFacts } from '../src/families/evm/transactionFacts.js'
import { typedDataFacts } from '../src/families/evm/typedDataFacts.js'
import { inspectBitcoinPsbt } from '../src/families/bitcoin/index.js'
import { bitcoinPolicyFacts } from '../src/families/bitcoin/policyFacts.js'
import { SYSTEM_PROGRAM, solanaFacts } from '../src/families/solana/facts.js'
import { solanaMessagePolicyFacts, solanaPolicyFacts } from '../src/families/solana/policyFacts.js'
import { keyFromSeed, kitMessageBytes, systemTransferData } from './solanaSupport.js'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import * as btc from '@scure/btc-signer'
import { AccountRole, type Address as SolanaKitAddress } from '@solana/kit'

// A PSBT: the key's P2WPKH (200,000 sats, proven by its previous transaction) pays 100,000 to a taproot address, change back.
const BTC_SECRET = new Uint8Array(32).fill(1)
const BTC_OWN = btc.p2wpkh(secp256k1.getPublicKey(BTC_SECRET, true))
const BTC_PAYEE = btc.p2tr(secp256k1.getPublicKey(new Uint8Array(32).fill(2), true).subarray(1)).address!
const BTC_PSBT = (() => {
  const prev = new btc.Transaction({ allowUnknownInputs: true })
  prev.addInput({ txid: new Uint8Array(32).fill(3), index: 0, finalScriptSig: new Uint8Array(0) })
  prev.addOutput({ script: BTC_OWN.script, amount: 200_000n })
  const tx = new btc.Transaction()
  tx.addInput({ txid: prev.id, index: 0, nonWitnessUtxo: prev.toBytes(true, false), witnessUtxo: { script: BTC_OWN.script, amount: 200_000n } })
  tx.addOutputAddress(BTC_PAYEE, 100_000n)
  tx.addOutputAddress(BTC_OWN.address!, 99_000n)
  return tx.toPSBT(0)
})()
// A Solana System transfer of 1,000 lamports.
const SOL_FROM = keyFromSeed(new Uint8Array(32).fill(0x51))
const SOL_TO = keyFromSeed(new Uint8Array(32).fill(0x52))
const SOL_MESSAGE = kitMessageBytes({
  version: 0,
  feePayer: SOL_FROM.address,
  blockhash: SOL_TO.address,
  instructions: [
    {
      programAddress: SYSTEM_PROGRAM as SolanaKitAddress,
      accounts: [
        { address: SOL_FROM.address, role: AccountRole.WRITABLE_SIGNER },
        { address: SOL_TO.address, role: AccountRole.WRITABLE },
      ],
      data: systemTransferData(1_000n),
    },
  ],
})

const USDC = '0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48'
const DAI = '0x6B175474E89094C44Da98b954EedeAC495271d0F'
const PERMIT2 = '0x000000000022D473030F116dDEE9F6B43aC78BA3'
const ALICE = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8'
const BOB = '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC'
const DELEGATE = '0xFBA3912Ca04dd458c843e2EE08967fC04f3579c2'
const GWEI = 1_000_000_000n
const PRIVATE_KEY = '0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318'

const erc20 = {
  transfer: (to: Hex, amount: bigint) => encodeFunctionData({ abi: erc20Abi, functionName: 'transfer', args: [to, amount] }),
  approve: (spender: Hex, amount: bigint) => encodeFunctionData({ abi: erc20Abi, functionName: 'approve', args: [spender, amount] }),
  transferFrom: (from: Hex, to: Hex, amount: bigint) => encodeFunctionData({ abi: erc20Abi, functionName: 'transferFrom', args: [from, to, amount] }),
}

/** An EIP-1559 call to USDC, fields overridable, through the SDK's normalisation (as the enclave parses it). */
function tx(overrides: Record<string, unknown> = {}) {
  return normalizeTransactionRequest({
    type: 'eip1559',
    chainId: 1,
    nonce: 0,
    to: USDC,
    gas: 100_000,
    maxFeePerGas: 30n * GWEI,
    maxPriorityFeePerGas: 2n * GWEI,
    ...overrides,
  }).transaction
}

/** The facts every EIP-1559 call from `tx()` shares. */
const eip1559Base = {
  family: 'evm',
  kind: 'eip1559',
  chainId: 1n,
  to: USDC,
  value: 0n,
  gas: 100_000n,
  maxFeePerGas: 30n * GWEI,
  maxPriorityFeePerGas: 2n * GWEI,
  worstCaseFee: 100_000n * 30n * GWEI,
  contractCreation: false,
} as const satisfies PolicyFacts

const signedAuthorization = signAuthorization(hexBytes(PRIVATE_KEY), { chainId: 1n, address: DELEGATE, nonce: 7n })

function hexBytes(hex: string): Uint8Array {
  return Uint8Array.from(Buffer.from(hex.slice(2), 'hex'))
}

const EIP712_DOMAIN_FULL = [
  { name: 'name', type: 'string' },
  { name: 'version', type: 'string' },
  { name: 'chainId', type: 'uint256' },
  { name: 'verifyingContract', type: 'address' },
]
const EIP2612_PERMIT = [
  { name: 'owner', type: 'address' },
  { name: 'spender', type: 'address' },
  { name: 'value', type: 'uint256' },
  { name: 'nonce', type: 'uint256' },
  { name: 'deadline', type: 'uint256' },
]

/** A USDC permit as a dapp asks `eth_signTypedData_v4` for it (mainnet USDC's EIP-712 domain). */
const usdcPermit = {
  domain: { name: 'USD Coin', version: '2', chainId: 1, verifyingContract: USDC },
  types: { EIP712Domain: EIP712_DOMAIN_FULL, Permit: EIP2612_PERMIT },
  primaryType: 'Permit',
  message: { owner: ALICE, spender: BOB, value: '2500000', nonce: '0', deadline: '1893456000' },
}

/** DAI's pre-EIP-2612 permit: an unlimited allowance switched on or off (`allowed`), no amount. */
const daiPermit = {
  domain: { name: 'Dai Stablecoin', version: '1', chainId: 1, verifyingContract: DAI },
  types: {
    EIP712Domain: EIP712_DOMAIN_FULL,
    Permit: [
      { name: 'holder', type: 'address' },
      { name: 'spender', type: 'address' },
      { name: 'nonce', type: 'uint256' },
      { name: 'expiry', type: 'uint256' },
      { name: 'allowed', type: 'bool' },
    ],
  },
  primaryType: 'Permit',
  message: { holder: ALICE, spender: BOB, nonce: '0', expiry: '1893456000', allowed: true },
}

/** Uniswap Permit2's PermitSingle (its domain has no version). */
const permit2Single = {
  domain: { name: 'Permit2', chainId: 1, verifyingContract: PERMIT2 },
  types: {
    PermitSingle: [
      { name: 'details', type: 'PermitDetails' },
      { name: 'spender', type: 'address' },
      { name: 'sigDeadline', type: 'uint256' },
    ],
    PermitDetails: [
      { name: 'token', type: 'address' },
      { name: 'amount', type: 'uint160' },
      { name: 'expiration', type: 'uint48' },
      { name: 'nonce', type: 'uint48' },
    ],
  },
  primaryType: 'PermitSingle',
  message: { details: { token: USDC, amount: '1461501637330902918203684832716283019655932542975', expiration: '1893456000', nonce: '0' }, spender: BOB, sigDeadline: '1893456000' },
}

const mail = {
  domain: { name: 'Ether Mail', version: '1', chainId: 1, verifyingContract: '0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC' },
  types: { Mail: [{ name: 'contents', type: 'string' }] },
  primaryType: 'Mail',
  message: { contents: 'Hello, Bob!' },
}

const ownPermit = (fields: { name: string; type: string }[], message: Record<string, unknown>) => ({
  ...usdcPermit,
  types: { EIP712Domain: EIP712_DOMAIN_FULL, Permit: fields },
  message,
})

type Case = { name: string; facts: () => PolicyFacts; expected: PolicyFacts }

const cases: Case[] = [
  // Transactions, every type.
  {
    name: 'legacy EIP-155 ether transfer: fees are the gas price, no calldata',
    facts: () => transactionFacts(normalizeTransactionRequest({ chainId: 1, nonce: 0, to: ALICE.toLowerCase(), value: 10n ** 18n, gas: 21_000, gasPrice: 20n * GWEI }).transaction),
    expected: {
      family: 'evm',
      kind: 'legacy',
      chainId: 1n,
      to: ALICE,
      value: 10n ** 18n,
      gas: 21_000n,
      maxFeePerGas: 20n * GWEI,
      maxPriorityFeePerGas: 20n * GWEI,
      worstCaseFee: 21_000n * 20n * GWEI,
      contractCreation: false,
      call: 'none',
    },
  },
  {
    name: 'legacy without chainId (replayable): no chainId fact',
    facts: () => transactionFacts(normalizeTransactionRequest({ nonce: 3, to: ALICE, value: 1, gas: 21_000, gasPrice: 1, allowReplayable: true }).transaction),
    expected: {
      family: 'evm',
      kind: 'legacy',
      to: ALICE,
      value: 1n,
      gas: 21_000n,
      maxFeePerGas: 1n,
      maxPriorityFeePerGas: 1n,
      worstCaseFee: 21_000n,
      contractCreation: false,
      call: 'none',
    },
  },
  {
    name: 'EIP-2930 ERC-20 transfer',
    facts: () =>
      transactionFacts(
        normalizeTransactionRequest({
          type: 'eip2930',
          chainId: 10,
          nonce: 1,
          to: USDC,
          gas: 60_000,
          gasPrice: 3n * GWEI,
          data: erc20.transfer(BOB, 2_500_000n),
          accessList: [{ address: USDC, storageKeys: [] }],
        }).transaction,
      ),
    expected: {
      family: 'evm',
      kind: 'eip2930',
      chainId: 10n,
      to: USDC,
      value: 0n,
      gas: 60_000n,
      maxFeePerGas: 3n * GWEI,
      maxPriorityFeePerGas: 3n * GWEI,
      worstCaseFee: 60_000n * 3n * GWEI,
      contractCreation: false,
      selector: '0xa9059cbb',
      call: 'transfer',
      token: USDC,
      recipient: BOB,
      amount: 2_500_000n,
    },
  },
  {
    name: 'EIP-1559 ERC-20 approve (unlimited)',
    facts: () => transactionFacts(tx({ data: erc20.approve(BOB, 2n ** 256n - 1n) })),
    expected: { ...eip1559Base, selector: '0x095ea7b3', call: 'approve', token: USDC, spender: BOB, amount: 2n ** 256n - 1n },
  },
  {
    name: 'EIP-1559 ERC-20 transferFrom: the recipient is the second argument',
    facts: () => transactionFacts(tx({ data: erc20.transferFrom(ALICE, BOB, 0n) })),
    expected: { ...eip1559Base, selector: '0x23b872dd', call: 'transferFrom', token: USDC, recipient: BOB, amount: 0n },
  },
  {
    name: 'EIP-1559 ERC-20 transfer with value attached: both the native value and the token amount',
    facts: () => transactionFacts(tx({ value: 5, data: erc20.transfer(ALICE, 9n) })),
    expected: { ...eip1559Base, value: 5n, selector: '0xa9059cbb', call: 'transfer', token: USDC, recipient: ALICE, amount: 9n },
  },
  {
    name: 'sign.eip1559\'s untagged transaction reads as kind eip1559',
    facts: () =>
      transactionFacts(normalizeEip1559Transaction({ chainId: '1', nonce: '0', to: USDC, gas: '100000', maxFeePerGas: String(30n * GWEI), maxPriorityFeePerGas: String(2n * GWEI), data: erc20.transfer(BOB, 1n) })),
    expected: { ...eip1559Base, selector: '0xa9059cbb', call: 'transfer', token: USDC, recipient: BOB, amount: 1n },
  },
  {
    name: 'unknown selector: a fact, not an error',
    facts: () => transactionFacts(tx({ data: `${toFunctionSelector('deposit()')}` })),
    expected: { ...eip1559Base, selector: '0xd0e30db0', call: 'unknown' },
  },
  {
    name: 'unknown selector with arguments of any shape',
    facts: () => transactionFacts(tx({ data: `0xdeadbeef${'ff'.repeat(33)}` })),
    expected: { ...eip1559Base, selector: '0xdeadbeef', call: 'unknown' },
  },
  ...[1, 2, 3].map(
    (n): Case => ({
      name: `${n} byte(s) of calldata: no selector, call unknown`,
      facts: () => transactionFacts(tx({ data: `0x${'a9059cbb'.slice(0, 2 * n)}` })),
      expected: { ...eip1559Base, call: 'unknown' },
    }),
  ),
  {
    name: 'contract creation: no to, init code is not calldata (no selector, call unknown)',
    facts: () => transactionFacts(tx({ to: null, gas: 1_000_000, data: '0x6080604052348015600e575f5ffd5b50' })),
    expected: {
      ...withoutTo(eip1559Base),
      gas: 1_000_000n,
      worstCaseFee: 1_000_000n * 30n * GWEI,
      contractCreation: true,
      call: 'unknown',
    },
  },
  {
    name: 'contract creation whose init code starts like an ERC-20 transfer is not decoded nor refused',
    facts: () => transactionFacts(tx({ to: null, data: `${erc20.transfer(BOB, 1n)}00` })),
    expected: { ...withoutTo(eip1559Base), contractCreation: true, call: 'unknown' },
  },
  {
    name: 'contract creation with empty init code: call none',
    facts: () => transactionFacts(tx({ to: null })),
    expected: { ...withoutTo(eip1559Base), contractCreation: true, call: 'none' },
  },
  {
    name: 'EIP-7702 (type 4) transaction: an ERC-20 transfer; its authorization list gives no delegate fact',
    facts: () =>
      transactionFacts(
        normalizeTransactionRequest({
          type: 4,
          chainId: 1,
          nonce: 0,
          to: USDC,
          gas: 100_000,
          maxFeePerGas: 30n * GWEI,
          maxPriorityFeePerGas: 2n * GWEI,
          data: erc20.transfer(BOB, 3n),
          authorizationList: [signedAuthorization],
        }).transaction,
      ),
    expected: { ...eip1559Base, kind: 'eip7702', selector: '0xa9059cbb', call: 'transfer', token: USDC, recipient: BOB, amount: 3n },
  },
  {
    name: 'EIP-7702 transaction calling its own account: unknown selector',
    facts: () =>
      transactionFacts(
        normalizeTransactionRequest({
          chainId: 1,
          nonce: 0,
          to: ALICE,
          gas: 100_000,
          maxFeePerGas: 30n * GWEI,
          maxPriorityFeePerGas: 2n * GWEI,
          data: '0x12345678',
          authorizationList: [signedAuthorization],
        }).transaction,
      ),
    expected: { ...eip1559Base, kind: 'eip7702', to: ALICE, selector: '0x12345678', call: 'unknown' },
  },
  // Authorizations, messages, digests.
  {
    name: 'EIP-7702 authorization on one chain',
    facts: () => authorizationFacts(normalizeAuthorizationRequest({ chainId: 8453, address: DELEGATE.toLowerCase(), nonce: 4 }).authorization),
    expected: { family: 'evm', kind: 'authorization', chainId: 8453n, delegate: DELEGATE },
  },
  {
    name: 'EIP-7702 authorization with chainId 0 (every chain)',
    facts: () => authorizationFacts(normalizeAuthorizationRequest({ chainId: 0, address: DELEGATE, nonce: 0, allowAnyChain: true }).authorization),
    expected: { family: 'evm', kind: 'authorization', chainId: 0n, delegate: DELEGATE },
  },
  { name: 'EIP-191 text message', facts: () => messageFacts(normalizePersonalMessage('hello world')), expected: { family: 'evm', kind: 'message' } },
  { name: 'EIP-191 raw message', facts: () => messageFacts(normalizePersonalMessage({ raw: '0xa9059cbb' })), expected: { family: 'evm', kind: 'message' } },
  { name: 'raw digest', facts: () => hashFacts(`0x${'11'.repeat(32)}`), expected: { family: 'evm', kind: 'digest' } },
  // EIP-712.
  {
    name: 'EIP-712 with a full domain',
    facts: () => typedDataFacts(normalizeTypedData(mail)),
    expected: {
      family: 'evm',
      kind: 'typedData',
      domainName: 'Ether Mail',
      domainVersion: '1',
      chainId: 1n,
      verifyingContract: '0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC',
      primaryType: 'Mail',
    },
  },
  {
    name: 'EIP-712 without chainId nor verifyingContract',
    facts: () => typedDataFacts(normalizeTypedData({ ...mail, domain: { name: 'Ether Mail' } })),
    expected: { family: 'evm', kind: 'typedData', domainName: 'Ether Mail', primaryType: 'Mail' },
  },
  {
    name: 'EIP-712 with an empty domain',
    facts: () => typedDataFacts(normalizeTypedData({ ...mail, domain: {} })),
    expected: { family: 'evm', kind: 'typedData', primaryType: 'Mail' },
  },
  {
    name: 'EIP-2612 permit (USDC): token, spender and amount',
    facts: () => typedDataFacts(normalizeTypedData(usdcPermit)),
    expected: {
      family: 'evm',
      kind: 'typedData',
      domainName: 'USD Coin',
      domainVersion: '2',
      chainId: 1n,
      verifyingContract: USDC,
      primaryType: 'Permit',
      token: USDC,
      spender: BOB,
      amount: 2_500_000n,
    },
  },
  {
    name: 'EIP-2612 permit whose domain has no verifyingContract: spender and amount, no token',
    facts: () => typedDataFacts(normalizeTypedData({ ...usdcPermit, types: { Permit: EIP2612_PERMIT }, domain: { name: 'USD Coin', version: '2', chainId: 1 } })),
    expected: { family: 'evm', kind: 'typedData', domainName: 'USD Coin', domainVersion: '2', chainId: 1n, primaryType: 'Permit', spender: BOB, amount: 2_500_000n },
  },
  {
    name: 'DAI\'s permit (holder, nonce, expiry, allowed): no token facts',
    facts: () => typedDataFacts(normalizeTypedData(daiPermit)),
    expected: { family: 'evm', kind: 'typedData', domainName: 'Dai Stablecoin', domainVersion: '1', chainId: 1n, verifyingContract: DAI, primaryType: 'Permit' },
  },
  {
    name: 'Permit2 PermitSingle: no token facts',
    facts: () => typedDataFacts(normalizeTypedData(permit2Single)),
    expected: { family: 'evm', kind: 'typedData', domainName: 'Permit2', chainId: 1n, verifyingContract: PERMIT2, primaryType: 'PermitSingle' },
  },
  {
    name: 'a Permit with EIP-2612\'s members in another order (another type hash): no token facts',
    facts: () => typedDataFacts(normalizeTypedData(ownPermit([EIP2612_PERMIT[1]!, EIP2612_PERMIT[0]!, ...EIP2612_PERMIT.slice(2)], usdcPermit.message))),
    expected: { family: 'evm', kind: 'typedData', domainName: 'USD Coin', domainVersion: '2', chainId: 1n, verifyingContract: USDC, primaryType: 'Permit' },
  },
  {
    name: 'a Permit with one member more: no token facts',
    facts: () => typedDataFacts(normalizeTypedData(ownPermit([...EIP2612_PERMIT, { name: 'extra', type: 'bool' }], { ...usdcPermit.message, extra: false }))),
    expected: { family: 'evm', kind: 'typedData', domainName: 'USD Coin', domainVersion: '2', chainId: 1n, verifyingContract: USDC, primaryType: 'Permit' },
  },
  {
    name: 'a Permit whose value is uint128: no token facts',
    facts: () => typedDataFacts(normalizeTypedData(ownPermit(EIP2612_PERMIT.map((f) => (f.name === 'value' ? { ...f, type: 'uint128' } : f)), usdcPermit.message))),
    expected: { family: 'evm', kind: 'typedData', domainName: 'USD Coin', domainVersion: '2', chainId: 1n, verifyingContract: USDC, primaryType: 'Permit' },
  },
  {
    name: 'EIP-2612 members under another primary type name: no token facts',
    facts: () =>
      typedDataFacts(normalizeTypedData({ ...usdcPermit, types: { EIP712Domain: EIP712_DOMAIN_FULL, Approval: EIP2612_PERMIT }, primaryType: 'Approval' })),
    expected: { family: 'evm', kind: 'typedData', domainName: 'USD Coin', domainVersion: '2', chainId: 1n, verifyingContract: USDC, primaryType: 'Approval' },
  },
  // Bitcoin and Solana (more in policyFamilies.test.ts).
  {
    name: 'a PSBT paying a taproot address with change: the non-change output, fee, proven amounts',
    facts: () => bitcoinPolicyFacts(inspectBitcoinPsbt({ psbt: BTC_PSBT, network: 'mainnet', keys: BTC_SECRET }).facts),
    expected: { family: 'bitcoin', kind: 'psbt', network: 'mainnet', fee: 1_000n, feeRate: 7n, spendAmount: 100_000n, outputAddresses: [BTC_PAYEE], amountsProven: true },
  },
  {
    name: 'a Solana System transfer',
    facts: () => solanaPolicyFacts(solanaFacts(SOL_MESSAGE)),
    expected: {
      family: 'solana',
      kind: 'solanaTransaction',
      programIds: [SYSTEM_PROGRAM],
      lamports: 1_000n,
      solRecipients: [SOL_TO.address],
      tokenMints: [],
      tokenDestinations: [],
      tokenDelegates: [],
      tokenAmount: 0n,
      feePayer: SOL_FROM.address,
      usesLookupAccounts: false,
      undecodedInstructions: 0n,
    },
  },
  { name: 'a Solana off-chain message: family and kind only', facts: () => solanaMessagePolicyFacts(), expected: { family: 'solana', kind: 'solanaMessage' } },
]

function withoutTo<T extends { to?: unknown }>(facts: T): Omit<T, 'to'> {
  const { to: _, ...rest } = facts
  return rest
}

describe('facts of every payload kind', () => {
  it.each(cases)('$name', ({ facts, expected }) => {
    const got = facts()
    // toStrictEqual: a key with an undefined value differs from an absent key.
    expect(got).toStrictEqual(expected)
  })

  it('the table covers every payload kind and every call kind', () => {
    expect(new Set(cases.map((c) => c.expected.kind))).toEqual(new Set(PAYLOAD_KINDS))
    expect(new Set(cases.map((c) => c.expected.call).filter((c) => c !== undefined))).toEqual(new Set(CALL_KINDS))
  })

  it.each(cases)('only known facts, no undefined value, EIP-55 addresses: $name', ({ facts }) => {
    const got = facts()
    for (const [name, value] of Object.entries(got)) {
      expect(FACT_NAMES).toContain(name)
      expect(value).not.toBeUndefined()
    }
    for (const name of ['to', 'token', 'recipient', 'spender', 'verifyingContract', 'delegate'] as const) {
      const value = got[name]
      if (value !== undefined) expect(value).toBe(getAddress(value))
    }
    expect(got.signer).toBeUndefined()
  })
})

describe('ERC-20 calldata, against viem and ethers', () => {
  const ethersErc20 = new Interface([
    'function transfer(address to, uint256 amount)',
    'function approve(address spender, uint256 amount)',
    'function transferFrom(address from, address to, uint256 amount)',
  ])

  it('the selectors are the ERC-20 ones', () => {
    for (const name of ['transfer', 'approve', 'transferFrom'] as const) {
      const abiItem = erc20Abi.find((item): item is Extract<(typeof erc20Abi)[number], { type: 'function' }> => item.type === 'function' && item.name === name)!
      expect(ERC20_SELECTORS[name]).toBe(toFunctionSelector(abiItem))
      expect(ERC20_SELECTORS[name]).toBe(ethersErc20.getFunction(name)!.selector)
    }
  })

  it('decodes what ethers encodes', () => {
    expect(decodeErc20Call(ethersErc20.encodeFunctionData('transferFrom', [BOB, ALICE, 123n]) as Hex)).toStrictEqual({ name: 'transferFrom', from: BOB, recipient: ALICE, amount: 123n })
    expect(decodeErc20Call(ethersErc20.encodeFunctionData('approve', [ALICE, 0n]) as Hex)).toStrictEqual({ name: 'approve', spender: ALICE, amount: 0n })
  })

  it('an upper-case selector is the same selector', () => {
    const data = erc20.transfer(BOB, 1n)
    expect(decodeErc20Call(`0x${data.slice(2, 10).toUpperCase()}${data.slice(10)}` as Hex)).toStrictEqual({ name: 'transfer', recipient: BOB, amount: 1n })
    expect(() => decodeErc20Call(`0xA9059CBB${'ab'.repeat(64)}` as Hex)).toThrow(InvalidArgumentError)
  })

  it('property: the recipient/spender and amount of a viem-encoded call are the facts', () => {
    const address = fc.uint8Array({ minLength: 20, maxLength: 20 }).map((b) => getAddress(bytesToHex(b)))
    const amount = fc.bigInt({ min: 0n, max: 2n ** 256n - 1n })
    fc.assert(
      fc.property(fc.constantFrom('transfer', 'approve', 'transferFrom'), address, address, amount, (fn, a, b, value) => {
        const data = fn === 'transfer' ? erc20.transfer(a, value) : fn === 'approve' ? erc20.approve(a, value) : erc20.transferFrom(b, a, value)
        const facts = transactionFacts(tx({ data }))
        expect(facts.call).toBe(fn)
        expect(facts.selector).toBe(data.slice(0, 10))
        expect(facts.token).toBe(USDC)
        expect(facts.amount).toBe(value)
        expect(fn === 'approve' ? facts.spender : facts.recipient).toBe(a)
        expect(fn === 'approve' ? facts.recipient : facts.spender).toBeUndefined()
        const viem = decodeFunctionData({ abi: erc20Abi, data })
        expect(viem.functionName).toBe(fn)
        expect(viem.args.at(-1)).toBe(facts.amount)
      }),
      { numRuns: 300 },
    )
  })

  /**
   * Our decoder accepts exactly the canonical encodings: calldata viem decodes AND re-encodes to the same
   * bytes. Anything else with an ERC-20 selector (short, long, dirty padding) is refused naming tx.data.
   */
  it('property: accepted iff canonical (viem decodes and re-encodes it byte for byte), refused otherwise', () => {
    const hexOf = (n: number) => fc.uint8Array({ minLength: n, maxLength: n }).map((b) => bytesToHex(b).slice(2))
    const addressWord = hexOf(20).map((a) => `${'00'.repeat(12)}${a}`)
    const anyWord = fc.oneof(addressWord, hexOf(32))
    // A well-formed call (address words clean, amounts any 32 bytes), then maybe one mutation.
    const wellFormed = fc.oneof(
      fc.tuple(addressWord, hexOf(32)).map((w) => `${ERC20_SELECTORS.transfer}${w.join('')}`),
      fc.tuple(addressWord, hexOf(32)).map((w) => `${ERC20_SELECTORS.approve}${w.join('')}`),
      fc.tuple(addressWord, addressWord, hexOf(32)).map((w) => `${ERC20_SELECTORS.transferFrom}${w.join('')}`),
    )
    type Mutation = (data: string) => string
    const mutation: fc.Arbitrary<Mutation> = fc.oneof(
      { weight: 4, arbitrary: fc.constant((d: string) => d) },
      // One non-zero byte in the first 12 bytes of a word (padding for an address word, harmless for an amount).
      fc.tuple(fc.nat(2), fc.nat(11), fc.integer({ min: 1, max: 255 })).map(([word, at, byte]): Mutation => (d) => {
        const i = 10 + 64 * word + 2 * at
        return i + 2 > d.length ? d : `${d.slice(0, i)}${byte.toString(16).padStart(2, '0')}${d.slice(i + 2)}`
      }),
      fc.integer({ min: 1, max: 40 }).chain((n) => hexOf(n)).map((tail): Mutation => (d) => d + tail),
      fc.integer({ min: 1, max: 40 }).map((n): Mutation => (d) => d.slice(0, Math.max(10, d.length - 2 * n))),
      // Another number of words under the same selector.
      fc.array(anyWord, { maxLength: 4 }).map((words): Mutation => (d) => `${d.slice(0, 10)}${words.join('')}`),
    )
    const calldata = fc.tuple(wellFormed, mutation).map(([data, mutate]) => mutate(data) as Hex)
    const seen = { accepted: 0, refused: 0 }
    fc.assert(
      fc.property(calldata, (data) => {
        let canonical: ReturnType<typeof decodeFunctionData<typeof erc20Abi>> | undefined
        try {
          const decoded = decodeFunctionData({ abi: erc20Abi, data })
          if (encodeFunctionData({ abi: erc20Abi, functionName: decoded.functionName, args: decoded.args } as never) === data) canonical = decoded
        } catch {}
        if (canonical === undefined) {
          expect(() => decodeErc20Call(data)).toThrow(InvalidArgumentError)
          expect(() => transactionFacts(tx({ data }))).toThrow(expect.objectContaining({ details: { field: 'tx.data', rule: expect.any(String) } }))
          seen.refused++
          return
        }
        seen.accepted++
        const ours = decodeErc20Call(data)!
        expect(ours.name).toBe(canonical.functionName)
        const args = canonical.args as readonly unknown[]
        const expected =
          ours.name === 'transfer'
            ? { name: 'transfer', recipient: args[0], amount: args[1] }
            : ours.name === 'approve'
              ? { name: 'approve', spender: args[0], amount: args[1] }
              : { name: 'transferFrom', from: args[0], recipient: args[1], amount: args[2] }
        expect(ours).toStrictEqual(expected)
      }),
      { numRuns: 1000 },
    )
    // Both sides of the property were exercised.
    expect(seen.accepted).toBeGreaterThan(50)
    expect(seen.refused).toBeGreaterThan(50)
  })
})

describe('malformed ERC-20 arguments are refused, never classified', () => {
  const transfer = erc20.transfer(BOB, 1000n)
  const approve = erc20.approve(BOB, 1000n)
  const transferFrom = erc20.transferFrom(ALICE, BOB, 1000n)
  /** Replace the byte at `index` of the argument words (0 = first argument byte). */
  const dirty = (data: Hex, index: number) => `${data.slice(0, 10 + 2 * index)}01${data.slice(12 + 2 * index)}` as Hex
  const malformed: [string, Hex][] = [
    ['transfer: selector alone', ERC20_SELECTORS.transfer],
    ['transfer: one byte short', transfer.slice(0, -2) as Hex],
    ['transfer: one word short', transfer.slice(0, -64) as Hex],
    ['transfer: one trailing byte', `${transfer}00`],
    ['transfer: one trailing word (a suffix)', `${transfer}${'00'.repeat(32)}`],
    ['transfer: dirty address padding (first byte)', dirty(transfer, 0)],
    ['transfer: dirty address padding (12th byte)', dirty(transfer, 11)],
    ['approve: dirty spender padding', dirty(approve, 5)],
    ['approve: three words', `${approve}${'00'.repeat(32)}`],
    ['transferFrom: two words (the shape of transfer)', `${ERC20_SELECTORS.transferFrom}${transfer.slice(10)}`],
    ['transferFrom: dirty from padding', dirty(transferFrom, 0)],
    ['transferFrom: dirty recipient padding', dirty(transferFrom, 32 + 11)],
    ['transferFrom: one byte short', transferFrom.slice(0, -2) as Hex],
  ]

  it.each(malformed)('%s', (_, data) => {
    for (const facts of [() => transactionFacts(tx({ data })), () => transactionFacts(normalizeTransactionRequest({ chainId: 1, nonce: 0, to: USDC, gas: 60_000, gasPrice: 1, data }).transaction)]) {
      let error: unknown
      try {
        facts()
      } catch (e) {
        error = e
      }
      expect(error).toBeInstanceOf(InvalidArgumentError)
      expect(isCustodyError(error, 'INVALID_ARGUMENT')).toBe(true)
      expect((error as InvalidArgumentError).details).toMatchObject({ field: 'tx.data' })
    }
  })

  it('the error says what is wrong, and not the calldata', () => {
    expect(() => transactionFacts(tx({ data: `${transfer}00` }))).toThrowErrorMatchingInlineSnapshot(
      `[InvalidArgumentError: "tx.data" calls ERC-20 transfer with 65 bytes of arguments where it takes exactly 64 (2 words): refused rather than read differently from the token]`,
    )
    expect(() => transactionFacts(tx({ data: dirty(transferFrom, 32) }))).toThrowErrorMatchingInlineSnapshot(
      `[InvalidArgumentError: "tx.data" calls ERC-20 transferFrom with argument 1 (an address) not padded with 12 zero bytes: refused rather than read differently from the token]`,
    )
  })

  it('the amount word is not an address: any 32 bytes decode', () => {
    const data = `${transfer.slice(0, 74)}${'ff'.repeat(32)}` as Hex
    expect(transactionFacts(tx({ data }))).toMatchObject({ call: 'transfer', recipient: BOB, amount: 2n ** 256n - 1n })
  })
})

describe('EIP-2612 detection on a real permit payload', () => {
  it('the permit is well formed: the SDK hashes it as viem does, and its Permit type hash is EIP-2612\'s', () => {
    const normalized = normalizeTypedData(usdcPermit)
    expect(hashNormalizedTypedData(normalized)).toBe(
      hashTypedData({
        domain: { ...usdcPermit.domain, verifyingContract: USDC },
        types: { Permit: EIP2612_PERMIT },
        primaryType: 'Permit',
        message: { owner: ALICE, spender: BOB, value: 2_500_000n, nonce: 0n, deadline: 1_893_456_000n },
      }),
    )
    // OpenZeppelin ERC20Permit's PERMIT_TYPEHASH.
    expect(keccak256(toHex(encodeType(normalized)))).toBe('0x6e71edae12b1b97f4d1f60370fef10105fa2faae0126114a169c64845d6126c9')
    // DAI's permit, also primaryType 'Permit', has another type hash (DAI's PERMIT_TYPEHASH).
    expect(keccak256(toHex(encodeType(normalizeTypedData(daiPermit))))).toBe('0xea2aa0a1be11a07ed86d755c93467f4f82362b452371d1ba94d1715123511acb')
  })
})

describe('the registry: one extractor per signing operation', () => {
  const request = (op: string, params: Record<string, unknown>) => parseRequest({ v: PROTOCOL_VERSION, id: 'r1', op, params: { keyId: 'k', ...params } })
  const wireTx = { chainId: '1', nonce: '0', to: USDC, gas: '100000', maxFeePerGas: String(30n * GWEI), maxPriorityFeePerGas: String(2n * GWEI), data: erc20.transfer(BOB, 7n) }

  it('covers exactly the sign.* operations', () => {
    // sign.batch carries items of these operations and has no facts of its own.
    expect(Object.keys(SIGNING_OPERATIONS).sort()).toEqual(operationNames.filter((op) => op.startsWith('sign.') && op !== 'sign.batch').sort())
    expect(Object.isFrozen(SIGNING_OPERATIONS)).toBe(true)
  })

  const signing: [string, Record<string, unknown>, PolicyFacts][] = [
    ['sign.eip1559', { tx: wireTx }, { ...eip1559Base, selector: '0xa9059cbb', call: 'transfer', token: USDC, recipient: BOB, amount: 7n }],
    ['sign.transaction', { tx: { type: 'eip1559', ...wireTx } }, { ...eip1559Base, selector: '0xa9059cbb', call: 'transfer', token: USDC, recipient: BOB, amount: 7n }],
    [
      'sign.transaction',
      { tx: { type: 'legacy', nonce: '0', to: ALICE, value: '1', gas: '21000', gasPrice: '5', allowReplayable: true } },
      { family: 'evm', kind: 'legacy', to: ALICE, value: 1n, gas: 21_000n, maxFeePerGas: 5n, maxPriorityFeePerGas: 5n, worstCaseFee: 105_000n, contractCreation: false, call: 'none' },
    ],
    ['sign.authorization', { authorization: { chainId: '0', address: DELEGATE, nonce: '0', allowAnyChain: true } }, { family: 'evm', kind: 'authorization', chainId: 0n, delegate: DELEGATE }],
    ['sign.message', { message: 'hello' }, { family: 'evm', kind: 'message' }],
    ['sign.typedData', { typedData: usdcPermit }, typedDataFacts(normalizeTypedData(usdcPermit))],
    ['sign.digest', { digest: `0x${'ab'.repeat(32)}` }, { family: 'evm', kind: 'digest' }],
  ]

  it.each(signing)('%s', (op, params, expected) => {
    expect(extractFacts(request(op, params))).toStrictEqual(expected)
  })

  it('operations that sign nothing have no facts', () => {
    expect(extractFacts(parseRequest({ v: PROTOCOL_VERSION, id: 'r', op: 'system.health', params: {} }))).toBeUndefined()
    expect(extractFacts(request('key.get', {}))).toBeUndefined()
    expect(extractFacts(parseRequest({ v: PROTOCOL_VERSION, id: 'r', op: 'key.list', params: {} }))).toBeUndefined()
  })

  it.each(['sign.eip1559', 'sign.transaction'])('%s with malformed ERC-20 arguments: extraction throws naming tx.data', (op) => {
    const req = request(op, { tx: { ...(op === 'sign.transaction' ? { type: 'eip1559' } : {}), ...wireTx, data: `${wireTx.data}00` } })
    expect(() => extractFacts(req)).toThrow(InvalidArgumentError)
    expect(() => extractFacts(req)).toThrow(expect.objectContaining({ details: expect.objectContaining({ field: 'tx.data' }) }))
  })
})
