import { stat } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import { z } from 'zod'
import { createApiKeyFile } from './apiKeyFile.js'
import { CommandFailure, UsageError } from './cliOptions.js'
import { defineCommand } from './defineCommand.js'
import { KEY_LIKE } from './readPrivateKey.js'


export const apiKeyCommand = defineCommand({
  name: 'api-key',
  summary: 'create an API key file (the key that stamps every request)',
  usage: 'custody api-key create --out <file>',
  description:
    'Writes a new P-256 API key to <file> as JSON { "publicKey", "privateKey" } (mode 0600; an existing file is\nnever overwritten) and prints only its public key. Give the file to the other commands with --api-key-file\n(env CUSTODY_API_KEY_FILE); the private key never leaves it (requests carry signatures, not the key).',
  positionals: [{ name: 'action', help: '"create" (the only action)', schema: z.enum(['create'], { error: 'must be "create"' }) }],
  options: {
    out: { flag: 'out', value: 'file', help: 'where to write the new key (mode 0600; must not exist yet)', schema: z.string().min(1), required: true },
  },
  async run({ options: o, io }) {
    if (KEY_LIKE.test(o.out.trim())) throw new UsageError('--out takes a file path, never a key')
    const path = resolve(io.cwd, o.out)
    const parent = await stat(dirname(path)).catch(() => undefined)
    if (!parent?.isDirectory()) throw new UsageError(`--out: directory ${dirname(o.out)} does not exist`)
    const created = await createApiKeyFile(path)
    if (!created) throw new CommandFailure(`${o.out} already exists; not overwritten (an API key file is never replaced)`)
    io.stdout(`${created.publicKey}\n`)
    io.stderr(`wrote ${o.out} (mode 0600): keep it private; commands take it with --api-key-file or CUSTODY_API_KEY_FILE\n`)
    return 0
  },
})
