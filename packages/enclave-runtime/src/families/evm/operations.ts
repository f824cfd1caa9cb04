import { InvalidArgumentError, PolicyDeniedError } from '@enclave-custody/sdk'
import type { Address } from '@enclave-custody/sdk'
import type { SigningOperations } from '../types.js'
import { signAuthorization } from './authorization.js'
import { authorizationFacts } from './authorizationFacts.js'
import { signEip1559Transaction } from './eip1559.js'
import { signHash } from './hash.js'
import { hashFacts } from './hashFacts.js'
import { signMessage } from './message.js'
import { messageFacts } from './messageFacts.js'
import { signTransaction } from './transaction.js'
import { transactionFacts } from './transactionFacts.js'
import { signTypedData } from './typedData.js'
import { typedDataFacts } from './typedDataFacts.js'

const gasCap = (gas: bigint, maxGas: bigint) => {
  if (gas > maxGas) throw new InvalidArgumentError({ field: 'tx.gas', rule: `must be at most ${maxGas} (the configured gas cap)` })
}

/**
 * The EVM family's signing operations: transactions of type 0, 1, 2 and 4, EIP-7702 authorizations, EIP-191
 * messages, EIP-712 typed data, and raw digests. The sealed flags are enforced here, after the key unsealed:
 * replayable legacy transactions, authorizations for every chain and raw digests need the key's flag.
 */
export const EVM_OPERATIONS: SigningOperations<'sign.eip1559' | 'sign.transaction' | 'sign.authorization' | 'sign.message' | 'sign.typedData' | 'sign.digest'> = {
  'sign.eip1559': {
    family: 'evm',
    facts: (params) => transactionFacts(params.tx),
    check: (params, { maxGas }) => gasCap(params.tx.gas, maxGas),
    sign: ({ privateKey }, params, { key }) => signEip1559Transaction(privateKey, params.tx, key.address as Address),
  },
  'sign.transaction': {
    family: 'evm',
    facts: (params) => transactionFacts(params.tx.transaction),
    check: (params, { maxGas }) => gasCap(params.tx.transaction.gas, maxGas),
    sign: ({ privateKey }, params, { policy, key }) => {
      const { transaction } = params.tx
      // The request opted in (normalisation refuses a chainId-less legacy transaction otherwise); the key must allow it too.
      if (transaction.type === 'legacy' && transaction.chainId === null && !policy.allowReplayableLegacy) {
        throw new PolicyDeniedError({ reason: 'the key\'s policy does not allow replayable legacy transactions (no chainId); import it with policy.allowReplayableLegacy' })
      }
      return signTransaction(privateKey, transaction, key.address as Address)
    },
  },
  'sign.authorization': {
    family: 'evm',
    facts: (params) => authorizationFacts(params.authorization.authorization),
    sign: ({ privateKey }, params, { policy }) => {
      // The request opted in (normalisation refuses chainId 0 otherwise); the key must allow it too.
      if (params.authorization.authorization.chainId === 0n && !policy.allowAnyChainAuthorization) {
        throw new PolicyDeniedError({ reason: 'the key\'s policy does not allow EIP-7702 authorizations for every chain (chainId 0); import it with policy.allowAnyChainAuthorization' })
      }
      return signAuthorization(privateKey, params.authorization.authorization)
    },
  },
  'sign.message': {
    family: 'evm',
    facts: (params) => messageFacts(params.message),
    sign: ({ privateKey }, params) => signMessage(privateKey, params.message),
  },
  'sign.typedData': {
    family: 'evm',
    facts: (params) => typedDataFacts(params.typedData),
    sign: ({ privateKey }, params) => signTypedData(privateKey, params.typedData),
  },
  'sign.digest': {
    family: 'evm',
    facts: (params) => hashFacts(params.digest),
    sign: ({ privateKey }, params, { policy }) => {
      if (!policy.allowRawDigest) throw new PolicyDeniedError({ reason: 'the key\'s policy does not allow raw-digest signing; import or generate it with policy.allowRawDigest' })
      return signHash(privateKey, params.digest)
    },
  },
}
