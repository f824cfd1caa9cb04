import { defineChain } from '../defineChain.js'

/** Hoodi (chain id 560048): the testnet launched in March 2025 to mirror mainnet's validator set. */
export const hoodi = /*#__PURE__*/ defineChain({
  id: 560_048,
  name: 'Hoodi',
  nativeCurrency: { name: 'Hoodi Ether', symbol: 'ETH', decimals: 18 },
  explorer: { name: 'Etherscan', url: 'https://hoodi.etherscan.io' },
  testnet: true,
})
