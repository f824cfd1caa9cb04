/** Helpers for the Solana family tests: keys from seeds, kit message compilation. */
import { ed25519 } from '@noble/curves/ed25519.js'
import {
  type Address,
  address,
  appendTransactionMessageInstructions,
  type Blockhash,
  compileTransactionMessage,
  createTransactionMessage,
  getCompiledTransactionMessageEncoder,
  type Instruction,
  setTransactionMessageFeePayer,
  setTransactionMessageLifetimeUsingBlockhash,
} from '@solana/kit'
import { base58 } from '@scure/base'

export type TestKey = { seed: Uint8Array; publicKey: Uint8Array; address: Address }

export function keyFromSeed(seed: Uint8Array): TestKey {
  const publicKey = ed25519.getPublicKey(seed)
  return { seed, publicKey, address: address(base58.encode(publicKey)) }
}

export const addressOf = (bytes: Uint8Array) => address(base58.encode(bytes))

/** Compile a transaction message with @solana/kit and encode it: the bytes a signer signs. */
export function kitMessageBytes(opts: {
  version: 'legacy' | 0
  feePayer: Address
  blockhash: string
  instructions: readonly Instruction[]
}): Uint8Array {
  const base = createTransactionMessage({ version: opts.version })
  const withPayer = setTransactionMessageFeePayer(opts.feePayer, base)
  const withLifetime = setTransactionMessageLifetimeUsingBlockhash({ blockhash: opts.blockhash as Blockhash, lastValidBlockHeight: 1000n }, withPayer)
  const message = appendTransactionMessageInstructions(opts.instructions, withLifetime)
  return new Uint8Array(getCompiledTransactionMessageEncoder().encode(compileTransactionMessage(message)))
}

/** A System Program transfer instruction, encoded by hand (discriminator 2 as u32 LE, lamports as u64 LE). */
export function systemTransferData(lamports: bigint): Uint8Array {
  const data = new Uint8Array(12)
  const view = new DataView(data.buffer)
  view.setUint32(0, 2, true)
  view.setBigUint64(4, lamports, true)
  return data
}

/** An SPL Token instruction with a u64 amount (transfer 3, approve 4, mintTo 7) and optional decimals (12, 13, 14). */
export function tokenAmountData(discriminator: number, amount: bigint, decimals?: number): Uint8Array {
  const data = new Uint8Array(decimals === undefined ? 9 : 10)
  data[0] = discriminator
  new DataView(data.buffer).setBigUint64(1, amount, true)
  if (decimals !== undefined) data[9] = decimals
  return data
}
