import type { CustodyClient } from '../client/createCustodyClient.js'

/**
 * The part of a `CustodyClient` the viem adapter uses: pass the client from `createCustodyClient` (or
 * anything with these methods, such as a test double). `signDigest` serves `account.sign({ hash })`.
 */
export type EnclaveAccountClient = Pick<CustodyClient, 'getKey' | 'signTransaction' | 'signMessage' | 'signTypedData' | 'signAuthorization' | 'signDigest'>
