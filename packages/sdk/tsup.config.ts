import { defineConfig } from 'tsup'
import { libraryConfig } from '../../tsup.base.js'

export default defineConfig(
  libraryConfig(
    {
      index: 'src/index.ts',
      'protocol/index': 'src/protocol/index.ts',
      'ethers/index': 'src/ethers/index.ts',
      'viem/index': 'src/viem/index.ts',
      'solana/index': 'src/solana/index.ts',
      'bitcoin/index': 'src/bitcoin/index.ts',
      'server/index': 'src/server/index.ts',
    },
    // The adapters' host libraries are peer dependencies: never bundled.
    { external: ['ethers', 'viem', '@solana/kit'] },
  ),
)
