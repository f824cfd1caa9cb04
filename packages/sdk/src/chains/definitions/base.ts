import { defineChain } from '../defineChain.js'

/** Base (chain id 8453), an OP Stack L2. */
export const base = /*#__PURE__*/ defineChain({
  id: 8453,
  name: 'Base',
  nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
  explorer: { name: 'Basescan', url: 'https://basescan.org' },
  testnet: false,
})
