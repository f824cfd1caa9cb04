import { defineChain } from '../defineChain.js'

/** Ethereum mainnet (chain id 1). */
export const mainnet = /*#__PURE__*/ defineChain({
  id: 1,
  name: 'Ethereum',
  nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
  explorer: { name: 'Etherscan', url: 'https://etherscan.io' },
  testnet: false,
})
