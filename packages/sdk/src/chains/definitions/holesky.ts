import { defineChain } from '../defineChain.js'

/** Holesky (chain id 17000): the large-validator-set testnet; Hoodi is its successor for staking tests. */
export const holesky = /*#__PURE__*/ defineChain({
  id: 17_000,
  name: 'Holesky',
  nativeCurrency: { name: 'Holesky Ether', symbol: 'ETH', decimals: 18 },
  explorer: { name: 'Etherscan', url: 'https://holesky.etherscan.io' },
  testnet: true,
})
