import {
  approveSigningPolicy,
  canonicalApiKey,
  type Condition,
  type CustodyClient,
  isCustodyError,
  type PolicyRule,
  type SigningPolicy,
  type SigningPolicyState,
  type Stamper,
} from '@enclave-custody/sdk'
import { z } from 'zod'
import { approverStampers } from './apiKeyFile.js'
import type { CliIo } from './cliIo.js'
import { CommandFailure, numberFlag, type OptionSpec, UsageError } from './cliOptions.js'
import { connect, credentialsOf, importerOptions, keyIdSchema, PROXY_HELP, PROXY_USAGE, type ProxySettings, proxyOptions } from './connection.js'
import { defineCommand } from './defineCommand.js'
import { apiKeyArgument, type PolicyFile, readPayloadFile, readPolicyFile, secp256k1PublicKeyArgument } from './policyFiles.js'
import { testSigningPolicy } from './policyTest.js'

const ACTIONS = ['get', 'set', 'test'] as const
type Action = (typeof ACTIONS)[number]

/** A required option of the connection, optional here because `policy test` needs none of them. */
const notRequired = <S extends OptionSpec>(spec: S) => ({ ...spec, required: false, schema: spec.schema.optional() })

const policyOptions = {
  file: { flag: 'file', value: 'policy.json', help: 'set, test: the policy, { "rules": […], "signers": […] } or an approved { "document", "approvals" }', schema: z.string().min(1).optional() },
  version: {
    flag: 'version',
    value: 'n',
    help: 'set: the new version (default: the version in force + 1)',
    schema: numberFlag({ min: 1, max: 999_999_999_999_999 }).optional(),
  },
  approverKeyFile: {
    flag: 'approver-key-file',
    value: 'path',
    help: "set: another owner's API key file that approves the policy (the --api-key-file key approves when it is an owner)",
    multiple: true,
    schema: z.array(z.string().min(1)).default([]),
  },
  payload: { flag: 'payload', value: 'payload.json', help: 'test: the signing request, { "op": "sign.…", "params": {…} } as on the wire', schema: z.string().min(1).optional() },
  signer: { flag: 'signer', value: 'apiKey', help: 'test: API public key that stamps the request (the "signer" fact; counts towards a quorum)', schema: z.string().min(1).optional() },
  approver: { flag: 'approver', value: 'apiKey', help: 'test: API public key whose approval stamp is on the request', multiple: true, schema: z.array(z.string().min(1)).default([]) },
  publicKey: {
    flag: 'public-key',
    value: 'hex',
    help: "test: secp256k1 public key of the signing key (33 or 65 bytes of hex), needed for a PSBT: its own outputs are change",
    schema: z.string().min(1).optional(),
  },
  freshBoot: {
    flag: 'fresh-boot',
    boolean: true,
    help: 'test: evaluate as an enclave that has just booted (rolling limits with afterRestart "deny-until-window-end" refuse)',
    schema: z.boolean().default(false),
  },
  json: { flag: 'json', boolean: true, help: 'print JSON', schema: z.boolean().default(false) },
  url: notRequired(proxyOptions.url),
  apiKeyFile: notRequired(proxyOptions.apiKeyFile),
  pcr0: notRequired(proxyOptions.pcr0),
  attestationRoot: proxyOptions.attestationRoot,
  receipts: proxyOptions.receipts,
  trustedCreator: proxyOptions.trustedCreator,
  dev: proxyOptions.dev,
  kmsKeyId: {
    ...notRequired(importerOptions.kmsKeyId),
    help: 'set: KMS key of the importer, which stores the policy in Secrets Manager when the enclave does not (production)',
  },
  awsEndpoint: importerOptions.awsEndpoint,
  region: importerOptions.region,
} satisfies Record<string, OptionSpec>

type PolicyOptions = { [K in keyof typeof policyOptions]: z.output<(typeof policyOptions)[K]['schema']> }

/** Which flags belong to which action (the connection's flags, which may come from the environment, are only read by get and set). */
const ONLY_FOR: Partial<Record<keyof PolicyOptions, readonly Action[]>> = {
  file: ['set', 'test'],
  version: ['set'],
  approverKeyFile: ['set'],
  payload: ['test'],
  signer: ['test'],
  approver: ['test'],
  publicKey: ['test'],
  freshBoot: ['test'],
}

/** Refuse a flag given to an action that does not take it. */
function checkFlags(action: Action, o: PolicyOptions): void {
  for (const [key, actions] of Object.entries(ONLY_FOR) as [keyof PolicyOptions, readonly Action[]][]) {
    const v = o[key]
    const given = Array.isArray(v) ? v.length > 0 : v !== undefined && v !== false
    if (given && !actions.includes(action)) throw new UsageError(`--${policyOptions[key].flag} is not an option of \`policy ${action}\` (only of ${actions.map((a) => `policy ${a}`).join(', ')})`)
  }
}

/** The connection settings, each required one checked as `resolveOptions` checks a required flag. */
function proxyOf(o: PolicyOptions): ProxySettings {
  for (const key of ['url', 'apiKeyFile', 'pcr0'] as const) {
    const spec = policyOptions[key]
    if (o[key] === undefined) throw new UsageError(`--${spec.flag} is required (or set ${spec.env})`)
  }
  return { url: o.url!, apiKeyFile: o.apiKeyFile!, pcr0: o.pcr0!, attestationRoot: o.attestationRoot, receipts: o.receipts, trustedCreator: o.trustedCreator }
}

/** `[a, b, c, +2 more]`: a list in a summary line. */
function list(values: readonly unknown[], max = 3): string {
  const shown = values.slice(0, max).map(String)
  return `[${shown.join(', ')}${values.length > max ? `, +${values.length - max} more` : ''}]`
}

/** `value lte 100, to in [0x…]`: a rule's conditions in one line. */
function describeConditions(when: PolicyRule['when']): string {
  const parts = (Object.entries(when) as [string, Condition][]).flatMap(([fact, condition]) =>
    Object.entries(condition).map(([op, v]) => `${fact} ${op} ${Array.isArray(v) ? list(v) : String(v)}`),
  )
  return parts.length === 0 ? 'every payload' : parts.join(', ')
}

/**
 * A policy's rules, one line each: effect, id, conditions, quorum and limit.
 *
 * @example
 * describeRules(policy) // ['allow  small  value lte 1000', 'deny   no-7702  kind eq authorization, delegate notIn [0x…]']
 */
export function describeRules(policy: SigningPolicy): string[] {
  const width = Math.max(0, ...policy.rules.map((r) => r.id.length))
  return policy.rules.map((r) => {
    const extra = [
      r.approvals ? `approvals ${r.approvals.threshold} of ${r.approvals.from.length}` : '',
      r.limit ? `limit ${r.limit.max} ${r.limit.sum} per ${r.limit.window}${r.limit.per === 'signer' ? ' per signer' : ''} (after restart: ${r.limit.afterRestart})` : '',
    ].filter(Boolean)
    return `${r.effect.padEnd(5)}  ${r.id.padEnd(width)}  ${describeConditions(r.when)}${extra.length ? `; ${extra.join('; ')}` : ''}`
  })
}

/** Short form of an API key in a summary: `0x02ab12cd…`. */
const shortKey = (k: string) => `${k.slice(0, 10)}…`

function printState(io: CliIo, keyId: string, state: SigningPolicyState, json: boolean): void {
  if (json) {
    io.stdout(`${JSON.stringify({ keyId, version: state.version, digest: state.digest, document: state.document, approvals: state.approvals })}\n`)
    return
  }
  const { document } = state
  const lines = [
    `keyId      ${keyId}`,
    `version    ${state.version}`,
    `digest     ${state.digest}`,
    `approvals  ${state.approvals.length} (${state.approvals.map((a) => shortKey(a.publicKey)).join(', ')})`,
    `signers    ${document.signers.length === 0 ? 'none (owners only)' : `${document.signers.length} (${document.signers.map(shortKey).join(', ')})`}`,
    `rules      ${document.rules.length === 0 ? 'none (what no deny rule denies is allowed)' : document.rules.length}`,
    ...describeRules(document).map((l) => `  ${l}`),
  ]
  io.stdout(`${lines.join('\n')}\n`)
}

/** The stampers of `--approver-key-file` files, read before anything is sent. */

/**
 * Set a key's signing policy from a checked policy file: rules are made into the next document and approved by
 * this client's API key when it is an owner and by `approvers`; an approved document is sent with its approvals
 * and those of `approvers` it lacks. The enclave verifies the approvals against the key's owners and the version.
 *
 * @returns the policy in force, as the enclave reports it after the change
 * @throws the SDK's errors: ForbiddenError (too few owner approvals), InvalidArgumentError (version not above the
 * one in force), …
 */
export async function setPolicyFromFile(
  keyId: string,
  file: PolicyFile,
  { version, approvers }: { version?: number | undefined; approvers: readonly Stamper[] },
  { client }: { client: CustodyClient },
): Promise<SigningPolicyState> {
  if (file.kind === 'rules') {
    const v = version ?? file.version
    return client.setSigningPolicy(keyId, { rules: file.policy.rules, signers: file.policy.signers, ...(v === undefined ? {} : { version: v }) }, { approvers })
  }
  const { document, approvals } = file.signed
  // Keys compared as points: an approval already in the file is not made again (the enclave counts an owner once).
  const pointOf = (key: unknown) => {
    try {
      return canonicalApiKey(key, 'approval.publicKey')
    } catch {
      return undefined
    }
  }
  const have = new Set(approvals.map((a) => pointOf(a?.publicKey)))
  const more = await Promise.all(approvers.filter((s) => !have.has(pointOf(s.publicKey))).map((s) => approveSigningPolicy(s, document)))
  return client.setSigningPolicy(keyId, { document, approvals: [...approvals, ...more] })
}

async function runGet(keyId: string, o: PolicyOptions, io: CliIo): Promise<number> {
  const { client, close } = await connect({ proxy: proxyOf(o), io })
  try {
    const state = await client.getSigningPolicy(keyId)
    if (state) printState(io, keyId, state, o.json)
    else if (o.json) io.stdout(`${JSON.stringify({ keyId })}\n`)
    else io.stdout(`no signing policy for ${keyId}: its owners sign whatever its sealed flags allow\n`)
    return 0
  } finally {
    await close()
  }
}

async function runSet(keyId: string, o: PolicyOptions, io: CliIo, devEnv: Readonly<Record<string, string>> | undefined): Promise<number> {
  if (o.file === undefined) throw new UsageError('--file is required for `policy set`')
  const proxy = proxyOf(o)
  // Everything local is checked before anything is sent: the policy (facts, operators, values), the approvers' files.
  const file = await readPolicyFile(o.file, io)
  if (file.kind === 'signed') {
    if (o.version !== undefined) throw new UsageError(`--version: ${o.file} holds an approved document, whose version (${file.signed.document.version}) is what its owners signed`)
    if (file.signed.document.keyId !== keyId) throw new UsageError(`--file ${o.file}: the document is for key "${file.signed.document.keyId}", not "${keyId}"`)
  } else if (o.version !== undefined && file.version !== undefined && o.version !== file.version) {
    throw new UsageError(`--version ${o.version} differs from the version ${file.version} in ${o.file}`)
  }
  const approvers = await approverStampers(o.approverKeyFile, io)
  const importer = o.kmsKeyId === undefined ? undefined : { kmsKeyId: o.kmsKeyId, awsEndpoint: o.awsEndpoint, region: o.region }
  const { client, close } = await connect({ proxy, ...(importer ? { importer } : {}), credentials: credentialsOf(devEnv), io })
  try {
    let state: SigningPolicyState
    try {
      state = await setPolicyFromFile(keyId, file, { version: o.version, approvers }, { client })
    } catch (e) {
      if (isCustodyError(e, 'INVALID_ARGUMENT') && (e.details as { field?: string } | undefined)?.field === 'importer') {
        throw new CommandFailure(
          'the enclave verified the policy but does not store policies itself (it reads them from Secrets Manager): give --kms-key-id (CUSTODY_KMS_KEY_ID) with the importer role\'s AWS credentials so that it is stored; nothing changed',
        )
      }
      throw e
    }
    if (o.json) printState(io, keyId, state, true)
    else {
      const { rules, signers } = state.document
      io.stdout(`signing policy of ${keyId} is now version ${state.version} (digest ${state.digest}): ${rules.length} rule${rules.length === 1 ? '' : 's'}, ${signers.length} signer${signers.length === 1 ? '' : 's'}, ${state.approvals.length} owner approval${state.approvals.length === 1 ? '' : 's'}\n`)
    }
    return 0
  } finally {
    await close()
  }
}

async function runTest(o: PolicyOptions, io: CliIo): Promise<number> {
  if (o.file === undefined) throw new UsageError('--file is required for `policy test`')
  if (o.payload === undefined) throw new UsageError('--payload is required for `policy test`')
  const { policy } = await readPolicyFile(o.file, io)
  const { request } = await readPayloadFile(o.payload, io)
  const signer = o.signer === undefined ? undefined : apiKeyArgument(o.signer, '--signer')
  const approvers = o.approver.map((a) => apiKeyArgument(a, '--approver'))
  const publicKey = o.publicKey === undefined ? undefined : secp256k1PublicKeyArgument(o.publicKey, '--public-key')
  if (request.op === 'sign.bitcoinPsbt' && publicKey === undefined) {
    throw new UsageError(`--public-key is required for a sign.bitcoinPsbt payload: the Bitcoin facts tell the key's change outputs from payments by its public key (\`custody list --json\` shows it)`)
  }
  let result: ReturnType<typeof testSigningPolicy>
  try {
    result = testSigningPolicy({ policy, request, signer, approvers, publicKey, freshBoot: o.freshBoot })
  } catch (e) {
    // A payload whose facts cannot be extracted (ERC-20 arguments that do not decode strictly): never signed.
    const { field, rule } = (isCustodyError(e, 'INVALID_ARGUMENT') ? (e.details ?? {}) : {}) as { field?: string; rule?: string }
    if (field !== undefined && rule !== undefined) throw new UsageError(`--payload ${o.payload}: "params.${field}" ${rule}`)
    throw e
  }
  if (o.json) io.stdout(`${JSON.stringify(result)}\n`)
  else {
    io.stdout(`${result.message}\n`)
    for (const note of result.notes) io.stderr(`note: ${note}\n`)
  }
  return result.allowed ? 0 : 1
}

export const policyCommand = defineCommand({
  name: 'policy',
  summary: "get, set or test (offline) a key's signing policy",
  usage: [
    `custody policy get <keyId> [--json] ${PROXY_USAGE}`,
    `       custody policy set <keyId> --file <policy.json> [--version <n>] [--approver-key-file <path>]… [--json] ${PROXY_USAGE}`,
    '       [--kms-key-id <id> [--aws-endpoint <url>] [--region <region>]]',
    '       custody policy test --file <policy.json> --payload <payload.json> [--signer <apiKey>] [--approver <apiKey>]… [--public-key <hex>]\n         [--fresh-boot] [--json]',
  ].join('\n'),
  description: [
    "A signing policy is a key's rules over the facts of what it signs (docs/policies.md).",
    'get   prints the policy in force, as the enclave read it (version, digest, owner approvals, signers, rules).',
    'set   checks --file (unknown facts, operators and values are refused before anything is sent), makes it the',
    "      next version and has it approved by the --api-key-file key when it is an owner and by each",
    "      --approver-key-file; or sends an approved { document, approvals } (and the approvals it lacks).",
    'test  evaluates --payload against --file offline, with the enclave\'s own fact extractors and evaluator, and prints',
    '      the decision and the rule; exit 0 allowed, 1 denied, 2 bad input. Rolling limits start empty. Payloads:',
    '      sign.eip1559 … sign.digest (EVM), sign.bitcoinPsbt { psbt: base64, network } (needs --public-key),',
    '      sign.solanaTransaction { message: base64 } and sign.solanaMessage { message: base64 }.',
    PROXY_HELP,
  ].join('\n'),
  positionals: [
    { name: 'action', help: 'get | set | test', schema: z.enum(ACTIONS, { error: 'must be get, set or test' }) },
    { name: 'keyId', help: 'the key (get, set)', schema: keyIdSchema, optional: true },
  ],
  options: policyOptions,
  async run({ options, positionals: [action, keyId], io, devEnv }) {
    const o = options as PolicyOptions
    checkFlags(action as Action, o)
    if (action === 'test') {
      if (keyId !== undefined) throw new UsageError('`policy test` takes no <keyId>: it evaluates offline (the payload may name one in params.keyId)')
      return runTest(o, io)
    }
    if (keyId === undefined) throw new UsageError(`<keyId> is required for \`policy ${action as string}\``)
    return action === 'get' ? runGet(keyId as string, o, io) : runSet(keyId as string, o, io, devEnv)
  },
})
