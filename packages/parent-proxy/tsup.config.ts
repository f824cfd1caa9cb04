import { defineConfig } from 'tsup'
import { libraryConfig } from '../../tsup.base.js'

export default defineConfig([
  libraryConfig({ index: 'src/index.ts' }, { clean: false }),
  // Executables: ESM only, no declarations.
  libraryConfig({ 'bin/proxy': 'src/bin/proxy.ts', 'bin/log-receiver': 'src/bin/logReceiver.ts' }, { format: ['esm'], dts: false, clean: false }),
])
