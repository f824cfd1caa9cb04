import { assertPrivateKeyHex, type Eip1559Transaction, InvalidArgumentError, normalizeEip1559Transaction } from '@enclave-custody/sdk'
import { KEY_ID_PATTERN, KEY_ID_RULE, UnknownOperationError } from '@enclave-custody/sdk/protocol'
import { parseEtherValue } from './parseEtherValue.js'

/** A validated request of the signing Lambda (the AWS sample's operations). */
export type SigningRequest =
  | { operation: 'set_key'; keyId: string; privateKey: string }
  | { operation: 'generate_key'; keyId: string }
  | { operation: 'get_address'; keyId: string }
  | { operation: 'sign_transaction'; keyId: string; transaction: Eip1559Transaction }

const OPERATIONS = ['set_key', 'generate_key', 'get_address', 'sign_transaction'] as const
const TX_FIELDS = ['value', 'to', 'nonce', 'type', 'chainId', 'gas', 'maxFeePerGas', 'maxPriorityFeePerGas'] as const
const TX_OPTIONAL = ['data'] as const

const kind = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v)

function plainObject(value: unknown, field: string, allowed: readonly string[]): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new InvalidArgumentError({ field, rule: `must be a JSON object (got ${kind(value)})` })
  const unknown = Object.keys(value).filter((k) => !allowed.includes(k))
  if (unknown.length > 0) throw new InvalidArgumentError({ field, rule: `has unknown field ${JSON.stringify(unknown[0]!.slice(0, 40))}` })
  return value as Record<string, unknown>
}

/**
 * Check an event against the sample's payload shapes: `{ operation: 'set_key', eth_key }` (hex, with or
 * without 0x),
 * `{ operation: 'get_address' }`, `{ operation: 'sign_transaction', transaction_payload: { value, to,
 * nonce, type, chainId, gas, maxFeePerGas, maxPriorityFeePerGas } }`, plus `{ operation: 'generate_key' }`
 * (the enclave creates the key; no plaintext outside KMS and the enclave), each with an optional `key_id`
 * (else `defaultKeyId`). `value` is ether (see `parseEtherValue`); `type` must be 2 (EIP-1559);
 * integers are safe JSON integers or decimal strings; `data` (hex) is optional.
 *
 * @throws InvalidArgumentError naming the field, or UnknownOperationError.
 */
export function parseSigningRequest(event: unknown, defaultKeyId: string): SigningRequest {
  const top = plainObject(event, 'event', ['operation', 'key_id', 'eth_key', 'transaction_payload'])
  const { operation } = top
  if (typeof operation !== 'string') throw new InvalidArgumentError({ field: 'operation', rule: `must be one of ${OPERATIONS.join(', ')} (got ${kind(operation)})` })
  if (!(OPERATIONS as readonly string[]).includes(operation)) throw new UnknownOperationError({ op: operation })
  const keyId = top.key_id === undefined ? defaultKeyId : top.key_id
  if (typeof keyId !== 'string' || !KEY_ID_PATTERN.test(keyId)) throw new InvalidArgumentError({ field: 'key_id', rule: KEY_ID_RULE })
  const refuse = (field: string) => {
    if (top[field] !== undefined) throw new InvalidArgumentError({ field, rule: `is not allowed in ${operation}` })
  }

  switch (operation) {
    case 'set_key': {
      refuse('transaction_payload')
      if (top.eth_key === undefined) throw new InvalidArgumentError({ field: 'eth_key', rule: 'is required' })
      // The sample sent the key without 0x; both spellings are accepted.
      const raw = typeof top.eth_key === 'string' && /^[0-9a-fA-F]{64}$/.test(top.eth_key) ? `0x${top.eth_key}` : top.eth_key
      return { operation, keyId, privateKey: assertPrivateKeyHex(raw, 'eth_key') }
    }
    case 'generate_key':
    case 'get_address':
      refuse('eth_key')
      refuse('transaction_payload')
      return { operation, keyId }
    default: {
      refuse('eth_key')
      const path = 'transaction_payload'
      if (top.transaction_payload === undefined) throw new InvalidArgumentError({ field: path, rule: 'is required' })
      const p = plainObject(top.transaction_payload, path, [...TX_FIELDS, ...TX_OPTIONAL])
      for (const name of TX_FIELDS) if (p[name] === undefined) throw new InvalidArgumentError({ field: `${path}.${name}`, rule: 'is required' })
      if (p.type !== 2 && p.type !== '2') throw new InvalidArgumentError({ field: `${path}.type`, rule: 'must be 2: only EIP-1559 transactions are signed' })
      if (typeof p.to !== 'string') throw new InvalidArgumentError({ field: `${path}.to`, rule: `must be a 0x-prefixed address (got ${kind(p.to)})` })
      const value = parseEtherValue(p.value, `${path}.value`)
      const { type: _type, ...fields } = p
      const transaction = normalizeEip1559Transaction({ ...fields, value }, path)
      return { operation: 'sign_transaction', keyId, transaction }
    }
  }
}
