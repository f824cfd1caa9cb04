/** The currency a chain charges gas in. */
export type NativeCurrency = {
  readonly name: string
  readonly symbol: string
  /** @default 18 */
  readonly decimals: number
}

/** A block explorer with Etherscan-style paths (`/tx/<hash>`, `/address/<address>`). */
export type BlockExplorer = {
  readonly name: string
  /** Base URL without a trailing slash, e.g. `https://sepolia.etherscan.io`. */
  readonly url: string
}

/**
 * An EVM chain as the SDK describes it: enough to sign for it (`id`) and to show where a transaction
 * went (`explorer`). Presets: `mainnet`, `sepolia`, `holesky`, `hoodi`, `base`, `optimism`, `arbitrum`,
 * `polygon`; any other chain through `defineChain`.
 */
export type Chain = {
  /** EIP-155 chain id: what signatures commit to. */
  readonly id: number
  readonly name: string
  readonly nativeCurrency: NativeCurrency
  /** Absent for chains without a public explorer (a local anvil, a private network). */
  readonly explorer?: BlockExplorer | undefined
  readonly testnet: boolean
}
