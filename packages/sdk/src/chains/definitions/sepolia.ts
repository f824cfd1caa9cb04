import { defineChain } from '../defineChain.js'

/** Sepolia (chain id 11155111): the application-developer testnet. Rinkeby (4) and Goerli (5) are retired; use this. */
export const sepolia = /*#__PURE__*/ defineChain({
  id: 11_155_111,
  name: 'Sepolia',
  nativeCurrency: { name: 'Sepolia Ether', symbol: 'ETH', decimals: 18 },
  explorer: { name: 'Etherscan', url: 'https://sepolia.etherscan.io' },
  testnet: true,
})
