/**
 * The enclave's own policy engine, for `custody policy test`: the same fact extractors, compiler, evaluator and
 * rolling limits the enclave runs, so that an offline decision is the enclave's decision.
 */
import type { extractFacts as extract } from '@enclave-custody/enclave-runtime'

export { compileSigningPolicy, createRollingLimits, evaluateSigningPolicy, extractFacts, NO_RULE_ALLOWS, type PolicyEvaluation, signingOperationOf } from '@enclave-custody/enclave-runtime'

/** The signing key a family's fact extractor reads (Bitcoin: its public key, to tell change from payments). */
export type PolicySigningKey = NonNullable<Parameters<typeof extract>[1]>
