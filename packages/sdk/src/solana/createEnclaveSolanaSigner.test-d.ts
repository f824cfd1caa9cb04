/**
 * Type-level test (checked by `tsc`): the signer `createEnclaveSolanaSigner` returns is assignable to
 * `@solana/keychain-core`'s `SolanaSigner` and to @solana/kit's signer interfaces, so it drops into code written
 * for either.
 */
import type { SolanaSigner } from '@solana/keychain-core'
import type {
  MessagePartialSigner,
  MessageSigner,
  OffchainMessageSignatorySigner,
  TransactionPartialSigner,
  TransactionSigner,
} from '@solana/kit'
import { expectTypeOf, test } from 'vitest'
import type { EnclaveSolanaSigner } from './createEnclaveSolanaSigner.js'
import type { createEnclaveSolanaSigner } from './index.js'

type Signer = Awaited<ReturnType<typeof createEnclaveSolanaSigner>>

// Plain assignments: a mismatch is a compile error.
declare const signer: Signer
export const asKeychain: SolanaSigner = signer
export const asTransactionPartial: TransactionPartialSigner = signer
export const asMessagePartial: MessagePartialSigner = signer
export const asTransactionSigner: TransactionSigner = signer
export const asMessageSigner: MessageSigner = signer
export const asOffchainSignatory: OffchainMessageSignatorySigner = signer

test('the signer is a keychain SolanaSigner and a kit partial signer', () => {
  expectTypeOf<EnclaveSolanaSigner>().toExtend<SolanaSigner>()
  expectTypeOf<EnclaveSolanaSigner>().toExtend<TransactionPartialSigner>()
  expectTypeOf<EnclaveSolanaSigner>().toExtend<MessagePartialSigner>()
  expectTypeOf<EnclaveSolanaSigner<'So11111111111111111111111111111111111111112'>>().toExtend<TransactionPartialSigner<'So11111111111111111111111111111111111111112'>>()
  // Not a modifying or sending signer: kit must not hand it whole transactions to rewrite or send.
  expectTypeOf<EnclaveSolanaSigner>().not.toHaveProperty('modifyAndSignTransactions')
  expectTypeOf<EnclaveSolanaSigner>().not.toHaveProperty('signAndSendTransactions')
})
