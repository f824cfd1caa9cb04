import { Agent } from 'node:https'

/** Options of {@link createPinnedHttpsAgent}. */
export type CreatePinnedHttpsAgentParameters = {
  /** The only certificates TLS trusts as roots (PEM, one per entry). */
  caCertificates: readonly string[]
}

/**
 * An HTTPS agent that trusts only `caCertificates`: Node's built-in Mozilla roots, `NODE_EXTRA_CA_CERTS`,
 * `--use-openssl-ca`/`--use-system-ca` stores and `NODE_TLS_REJECT_UNAUTHORIZED=0` do not apply, because
 * `ca` replaces the default store and `rejectUnauthorized` is set explicitly. TLS 1.2 at least; the server
 * name is checked as usual (`checkServerIdentity`).
 *
 * @param parameters - The trusted roots.
 * @returns A keep-alive `https.Agent` for the KMS client's request handler.
 * @example
 * import { createPinnedHttpsAgent } from './createPinnedHttpsAgent.js'
 * const agent = createPinnedHttpsAgent({ caCertificates: AMAZON_TRUST_SERVICES_ROOTS })
 */
export function createPinnedHttpsAgent({ caCertificates }: CreatePinnedHttpsAgentParameters): Agent {
  return new Agent({
    ca: [...caCertificates],
    rejectUnauthorized: true,
    minVersion: 'TLSv1.2',
    keepAlive: true,
    maxSockets: 50,
  })
}
