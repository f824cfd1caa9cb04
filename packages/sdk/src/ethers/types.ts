import type { CustodyClient } from '../client/createCustodyClient.js'

/**
 * The part of a `CustodyClient` the ethers adapter uses: pass the client from `createCustodyClient` (or
 * anything with these methods, such as a test double).
 */
export type EnclaveSignerClient = Pick<CustodyClient, 'getKey' | 'signTransaction' | 'signMessage' | 'signTypedData' | 'signAuthorization'>
