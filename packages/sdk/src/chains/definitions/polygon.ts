import { defineChain } from '../defineChain.js'

/** Polygon PoS (chain id 137); its gas token is POL (formerly MATIC). */
export const polygon = /*#__PURE__*/ defineChain({
  id: 137,
  name: 'Polygon',
  nativeCurrency: { name: 'POL', symbol: 'POL', decimals: 18 },
  explorer: { name: 'PolygonScan', url: 'https://polygonscan.com' },
  testnet: false,
})
