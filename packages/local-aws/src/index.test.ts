import { expect, it } from 'vitest'
import * as localAws from './index.js'

it('exports exactly this public surface', () => {
  expect(Object.keys(localAws).sort()).toMatchInlineSnapshot(`
    [
      "CONDITION_OPERATORS",
      "PolicyDocumentError",
      "buildCiphertextForRecipient",
      "defaultKeyPolicy",
      "evaluateIdentityPolicies",
      "evaluatePolicy",
      "isPrincipalArn",
      "parseIdentityPolicy",
      "parseKeyPolicy",
      "principalArnOf",
      "resolveLocalAwsConfig",
      "sdkVerifyAttestation",
      "startLocalAws",
      "verifySigV4",
    ]
  `)
})
