import { expect, it } from 'vitest'
import * as parentProxy from './index.js'

it('@enclave-custody/parent-proxy exports exactly this (a change of public surface shows in review)', () => {
  expect(Object.keys(parentProxy).sort()).toMatchInlineSnapshot(`
    [
      "MAX_ENCLAVE_LOG_STRING_CHARS",
      "REDACT_PATHS",
      "createAuditFileSink",
      "createEnclaveConnection",
      "createEnclavePool",
      "createImdsCredentialsProvider",
      "createSecretsManagerRecordSource",
      "formatEnclaveLogLine",
      "silentLogger",
      "startLogReceiver",
      "startParentProxy",
    ]
  `)
})
