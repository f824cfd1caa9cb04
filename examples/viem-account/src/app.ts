/**
 * "The app": ordinary viem code written against a wallet client. It does not know or care where the
 * account's key is; nothing in this file changed when it moved from `privateKeyToAccount` to the enclave.
 */
import type { Account, Address, Chain, Hex, PublicClient, Transport, WalletClient } from 'viem'

export type AppResult = {
  address: Address
  chainId: number
  /** The payment. */
  hash: Hex
  blockNumber: bigint
  status: 'success' | 'reverted'
  /** EIP-191 sign-in message and its signature. */
  message: string
  signature: Hex
  /** EIP-712 order signature. */
  orderSignature: Hex
  /** Both signatures verify for `address`. */
  verified: boolean
}

/** Pay `value` wei to `to`, then sign a sign-in message and an EIP-712 order, and check both. */
export async function app(
  wallet: WalletClient<Transport, Chain, Account>,
  publicClient: PublicClient,
  { to, value, log = console.log }: { to: Address; value: bigint; log?: (line: string) => void },
): Promise<AppResult> {
  const { address } = wallet.account
  const chainId = wallet.chain.id
  log(`1. account ${address} on chain ${chainId} (${wallet.chain.name})`)

  // viem fills nonce, gas and EIP-1559 fees from the node, the account signs, the node gets the raw transaction.
  const hash = await wallet.sendTransaction({ to, value })
  const receipt = await publicClient.waitForTransactionReceipt({ hash })
  if (receipt.status !== 'success') throw new Error(`payment ${hash} failed`)
  log(`2. paid ${value} wei to ${to}: ${hash} (block ${receipt.blockNumber})`)

  const message = `Sign in to Example Dapp as ${address} on chain ${chainId}`
  const signature = await wallet.signMessage({ message })
  log(`3. signed in: ${signature.slice(0, 18)}…`)

  const typedData = {
    domain: { name: 'Example Exchange', version: '1', chainId, verifyingContract: to },
    types: {
      Order: [
        { name: 'maker', type: 'address' },
        { name: 'amount', type: 'uint256' },
        { name: 'expiry', type: 'uint64' },
      ],
    },
    primaryType: 'Order',
    message: { maker: address, amount: value, expiry: 1_900_000_000n },
  } as const
  const orderSignature = await wallet.signTypedData(typedData)
  const verified =
    (await publicClient.verifyMessage({ address, message, signature })) &&
    (await publicClient.verifyTypedData({ ...typedData, address, signature: orderSignature }))
  log(`4. signed an EIP-712 order: ${orderSignature.slice(0, 18)}…; both signatures verify: ${verified}`)

  return { address, chainId, hash, blockNumber: receipt.blockNumber, status: receipt.status, message, signature, orderSignature, verified }
}
