import type { Address, KeyPolicy, PolicyFacts } from '@enclave-custody/sdk'
import type { Operation, OperationParams } from '@enclave-custody/sdk/protocol'

/** The operations that sign a payload: every `sign.*` operation of the protocol. */
export type SigningOperation = Extract<Operation, `sign.${string}`>

/**
 * What a chain family tells the enclave about one of its signing operations. The handler runs them in this
 * order: `check` (no key needed), the caller's authorization and the key's signing policy over `facts`, then —
 * with the unsealed key — `sign`, which also enforces the key's sealed flags (a ceiling no rule widens).
 */
export type SigningOperationSpec<O extends SigningOperation> = {
  /** The payload's policy facts. Throws `InvalidArgumentError` when they cannot be extracted: nothing is signed. */
  facts(params: OperationParams<O>): PolicyFacts
  /** Checks of the request alone (e.g. the gas cap), before any key is read. */
  check?(params: OperationParams<O>, limits: { maxGas: bigint }): void
  /** Sign with the unsealed key (only read, never kept); `policy` is the key's sealed flags. */
  sign(privateKey: Uint8Array, params: OperationParams<O>, key: { policy: KeyPolicy; address: Address }): unknown
}

/** One spec per signing operation: a family adds its operations to {@link SIGNING_OPERATIONS} in one line. */
export type SigningOperations<O extends SigningOperation = SigningOperation> = { readonly [K in O]: SigningOperationSpec<K> }
