import { describe, expect, it } from 'vitest'

describe('@enclave-custody/sdk/viem', () => {
  it('exports exactly this (a change of public surface must show up in review)', async () => {
    // Through the package's exports map, as an app imports it.
    const entry = await import('@enclave-custody/sdk/viem')
    expect(Object.keys(entry).sort()).toMatchInlineSnapshot(`
      [
        "enclaveAccount",
        "toEnclaveAccount",
      ]
    `)
  })
})
