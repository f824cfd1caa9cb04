import { defineConfig } from 'tsup'
import { libraryConfig } from '../../tsup.base.js'

export default defineConfig([
  libraryConfig({ index: 'src/index.ts' }, { clean: false }),
  // Executables: ESM only, no declarations.
  libraryConfig(
    { 'bin/enclave': 'src/bin/enclave.ts', 'bin/seed-rng': 'src/bin/seedRng.ts' },
    { format: ['esm'], dts: false, clean: false },
  ),
])
