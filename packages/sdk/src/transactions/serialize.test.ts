import { describe, expect, it } from 'vitest'
import { SECP256K1_N } from '../utils/privateKey.js'
import { bytesToHex, hexToBytes } from '../utils/hex.js'
import { decodeRlp, encodeRlp, type RlpItem } from './rlp.js'
import { parseSignedTransaction, serializeTransactionSigned } from './serialize.js'
import type { Transaction } from './transaction.js'

// EIP-155's own example (key 0x4646…46): nonce 9, 20 gwei, 21000 gas, 1 ether to 0x3535…35, chainId 1.
const EIP155 =
  '0xf86c098504a817c800825208943535353535353535353535353535353535353535880de0b6b3a76400008025a028ef61340bd939bc2195fe537567866003e1a15d3c71ff63e1590620aa636276a067cbe9d8997f761aecb703304b3800ccf555c9f3dc64214b297fb1966a3b6d83'
const TYPED_2930 =
  '0x01f84f0182031180825208808080c080a089cebce5c7f728febd1060b55837c894ec2a79dd7854350abce252fc2de96b5da039f2782c70b92f4b1916aa8db91453c7229f33458bd091b3e10a40f9a7e443d2'

/** Re-encode a transaction after replacing one of its RLP fields. */
function edit(raw: string, index: number, value: RlpItem): string {
  const typed = !raw.startsWith('0xf')
  const items = decodeRlp(hexToBytes(typed ? raw.slice(4) : raw.slice(2))) as RlpItem[]
  items[index] = value
  const body = bytesToHex(encodeRlp(items)).slice(2)
  return typed ? `${raw.slice(0, 4)}${body}` : `0x${body}`
}

describe('parseSignedTransaction', () => {
  it('parses an EIP-155 transaction: chainId from v, sender recovered, and re-serialises to the same bytes', () => {
    const parsed = parseSignedTransaction(EIP155)
    expect(parsed.tx).toMatchObject({ type: 'legacy', chainId: 1n, nonce: 9n, gas: 21000n, value: 10n ** 18n, to: '0x3535353535353535353535353535353535353535' })
    expect(parsed.signature.v).toBe(37n)
    expect(parsed.from).toBe('0x9d8A62f656a8d1615C1294fd71e9CFb3E4855A4F')
    expect(serializeTransactionSigned(parsed.tx as Transaction, parsed.signature).rawTransaction).toBe(EIP155)
  })

  it.each([
    ['not hex', 'hello', 'not a hex string of whole bytes'],
    ['an odd number of digits', '0x02f', 'not a hex string of whole bytes'],
    ['a blob transaction', '0x03c0', 'unsupported transaction type 0x03'],
    ['an unknown type byte', '0x7fc0', 'unsupported transaction type 0x7f'],
    ['too few fields', '0x02c0', 'a signed eip1559 transaction must be a list of 12 fields'],
    ['a list where a number belongs', edit(TYPED_2930, 1, []), 'nonce must be a byte string'],
    ['a nonce with a leading zero', edit(TYPED_2930, 1, hexToBytes('000311')), 'nonce has leading zeros'],
    ['a nonce of 9 bytes', edit(TYPED_2930, 1, hexToBytes('010000000000000000')), 'nonce is too large'],
    ['a 19-byte to', edit(TYPED_2930, 4, hexToBytes('11'.repeat(19))), 'to must be 20 bytes'],
    ['a yParity of 2', edit(TYPED_2930, 8, hexToBytes('02')), 'yParity must be 0 or 1'],
    ['a malformed access list', edit(TYPED_2930, 7, [[hexToBytes('11'.repeat(20))]]), 'malformed access list entry'],
    ['a zero r', edit(TYPED_2930, 9, new Uint8Array(0)), 'r or s out of range'],
    ['an r ≥ n', edit(TYPED_2930, 9, hexToBytes(SECP256K1_N.toString(16))), 'r or s out of range'],
    ['a high s', edit(TYPED_2930, 10, hexToBytes((SECP256K1_N - 1n).toString(16))), 'signature is not low-s'],
    ['a legacy v of 35 (chainId 0)', edit(EIP155, 6, hexToBytes('23')), 'v must be 27, 28 or an EIP-155 value for chainId ≥ 1'],
    ['a legacy v of 1', edit(EIP155, 6, hexToBytes('01')), 'v must be 27, 28 or an EIP-155 value for chainId ≥ 1'],
    ['a non-canonical RLP length', '0x02b801aa', 'RLP long form used for a short length'],
    ['trailing bytes', `${EIP155}00`, 'trailing bytes after the RLP item'],
    ['an EIP-7702 transaction without to', `0x04cd01${'80'.repeat(7)}c0c0${'80'.repeat(3)}`, 'to must be 20 bytes'],
  ])('refuses %s', (_, raw, message) => {
    expect(() => parseSignedTransaction(raw)).toThrowError(message)
  })
})
