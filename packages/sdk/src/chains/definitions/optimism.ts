import { defineChain } from '../defineChain.js'

/** OP Mainnet (chain id 10). */
export const optimism = /*#__PURE__*/ defineChain({
  id: 10,
  name: 'OP Mainnet',
  nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
  explorer: { name: 'Optimism Explorer', url: 'https://optimistic.etherscan.io' },
  testnet: false,
})
