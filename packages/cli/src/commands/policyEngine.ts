/**
 * The enclave's own policy engine, for `custody policy test`: the same fact extractors, compiler, evaluator and
 * rolling limits the enclave runs, so that an offline decision is the enclave's decision.
 */
export { compileSigningPolicy, createRollingLimits, evaluateSigningPolicy, extractFacts, NO_RULE_ALLOWS, type PolicyEvaluation } from '@enclave-custody/enclave-runtime'
