export { BITCOIN_NETWORKS, type BitcoinAddresses, type BitcoinKeyScripts, type BitcoinNetwork, type BitcoinNetworkParams, bitcoinAddresses, bitcoinNetworkParams, keyScripts } from './addresses.js'
export { type BitcoinFacts, type BitcoinOutputFact, bitcoinFacts } from './facts.js'
export type { BitcoinHdSource, BitcoinInspectionKeys, BitcoinPublicKeys, BitcoinSigningKeys } from './keys.js'
export {
  type BitcoinInputType,
  type BitcoinPlannedInput,
  type BitcoinPsbtPlan,
  type InspectBitcoinPsbtParameters,
  inspectBitcoinPsbt,
  type SignBitcoinPsbtParameters,
  type SignBitcoinPsbtReturnType,
  signBitcoinPsbt,
} from './psbt.js'
