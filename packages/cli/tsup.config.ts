import { defineConfig } from 'tsup'
import { libraryConfig } from '../../tsup.base.js'

export default defineConfig([
  libraryConfig({ index: 'src/index.ts' }, { clean: false }),
  // The `custody` executable: ESM only, no declarations (the shebang of src/bin.ts is kept).
  libraryConfig({ bin: 'src/bin.ts' }, { format: ['esm'], dts: false, clean: false }),
])
