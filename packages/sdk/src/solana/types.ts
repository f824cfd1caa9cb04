import type { CustodyClient } from '../client/createCustodyClient.js'

/**
 * The part of a `CustodyClient` the Solana adapter uses: pass the client from `createCustodyClient` (or
 * anything with these methods, such as a test double).
 */
export type EnclaveSolanaSignerClient = Pick<CustodyClient, 'getKey' | 'signSolanaTransaction' | 'signSolanaMessage'>
