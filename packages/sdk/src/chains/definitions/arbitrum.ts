import { defineChain } from '../defineChain.js'

/** Arbitrum One (chain id 42161). */
export const arbitrum = /*#__PURE__*/ defineChain({
  id: 42_161,
  name: 'Arbitrum One',
  nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
  explorer: { name: 'Arbiscan', url: 'https://arbiscan.io' },
  testnet: false,
})
