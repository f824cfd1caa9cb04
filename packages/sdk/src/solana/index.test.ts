import { describe, expect, it } from 'vitest'

describe('@enclave-custody/sdk/solana', () => {
  it('exports exactly this (a change of public surface must show up in review)', async () => {
    // Through the package's exports map, as an app imports it.
    const entry = await import('@enclave-custody/sdk/solana')
    expect(Object.keys(entry).sort()).toMatchInlineSnapshot(`
      [
        "createEnclaveSolanaSigner",
      ]
    `)
  })
})
