/**
 * "The app": ordinary ethers v6 code written against `Signer`. It does not know or care where the key is;
 * nothing in this file changed when it moved from a private-key `Wallet` to the enclave.
 */
import { type Signer, verifyMessage, verifyTypedData } from 'ethers'

export type AppResult = {
  address: string
  chainId: bigint
  /** The payment. */
  hash: string
  blockNumber: number
  status: number
  /** EIP-191 sign-in message and its signature. */
  message: string
  signature: string
  /** EIP-712 order signature. */
  orderSignature: string
  /** Both signatures recover to `address`. */
  verified: boolean
}

/** Pay `value` wei to `to`, then sign a sign-in message and an EIP-712 order, and check both. */
export async function app(signer: Signer, { to, value, log = console.log }: { to: string; value: bigint; log?: (line: string) => void }): Promise<AppResult> {
  const address = await signer.getAddress()
  const { chainId } = await signer.provider!.getNetwork()
  log(`1. signer ${address} on chain ${chainId}`)

  // ethers fills nonce, gas limit and EIP-1559 fees from the provider, the signer signs, the provider broadcasts.
  const tx = await signer.sendTransaction({ to, value })
  const receipt = await tx.wait()
  if (receipt?.status !== 1) throw new Error(`payment ${tx.hash} failed`)
  log(`2. paid ${value} wei to ${to}: ${tx.hash} (block ${receipt.blockNumber})`)

  const message = `Sign in to Example Dapp as ${address} on chain ${chainId}`
  const signature = await signer.signMessage(message)
  log(`3. signed in: ${signature.slice(0, 18)}…`)

  const domain = { name: 'Example Exchange', version: '1', chainId, verifyingContract: to }
  const types = {
    Order: [
      { name: 'maker', type: 'address' },
      { name: 'amount', type: 'uint256' },
      { name: 'expiry', type: 'uint64' },
    ],
  }
  const order = { maker: address, amount: value, expiry: 1_900_000_000n }
  const orderSignature = await signer.signTypedData(domain, types, order)
  const verified = verifyMessage(message, signature) === address && verifyTypedData(domain, types, order, orderSignature) === address
  log(`4. signed an EIP-712 order: ${orderSignature.slice(0, 18)}…; both signatures recover to the signer: ${verified}`)

  return { address, chainId, hash: tx.hash, blockNumber: receipt.blockNumber, status: receipt.status, message, signature, orderSignature, verified }
}
