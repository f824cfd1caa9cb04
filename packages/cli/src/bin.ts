#!/usr/bin/env node
// We support Node 20 (engines); the AWS SDK's notice about its future Node 22 requirement is noise here.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'

import { createRequire } from 'node:module'
import { processIo } from './commands/cliIo.js'
import { runCli } from './commands/runCli.js'

/** `custody`: a thin dispatcher over the command modules (src/commands). */
const { version } = createRequire(import.meta.url)('../package.json') as { version: string }
const code = await runCli(process.argv.slice(2), processIo(), { version })
// Let stdout drain (pipes), then leave even if an HTTP keep-alive socket is still open.
process.stdout.write('', () => process.exit(code))
