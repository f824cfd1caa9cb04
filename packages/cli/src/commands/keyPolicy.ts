import { KMSClient, PutKeyPolicyCommand } from '@aws-sdk/client-kms'
import { buildKeyPolicy, isCustodyError, type KeyPolicyDocument } from '@enclave-custody/sdk'
import { z } from 'zod'
import { CommandFailure, type OptionSpec, UsageError } from './cliOptions.js'
import { awsClientConfig, awsErrorText, httpUrl, regionSchema } from './connection.js'
import { defineCommand } from './defineCommand.js'

const hex96 = z.string().regex(/^[0-9a-fA-F]{96}$/, 'must be 96 hex digits (SHA-384)')
const arn = z.string().min(1)

export type KeyPolicyCommandParameters = {
  /** One PCR0 or the accepted list (current and next image, for a rotation). */
  pcr0: string | readonly string[]
  pcrs?: Partial<Record<1 | 2 | 3 | 4 | 8, string | undefined>>
  instanceRoleArn: string
  importerRoleArn: string
  adminArns: readonly string[]
  /** Accept the all-zero PCR0 of a debug-mode enclave (development only). @default false */
  allowDebugEnclave?: boolean
  /** Irreversible: nobody may change the policy again (see buildKeyPolicy's `lockKeyPolicy`). @default false */
  lockKeyPolicy?: boolean
}

/** The flag that carries each field of buildKeyPolicy's parameters. */
function flagOf(field: string): string {
  if (field.startsWith('instanceRoleArn')) return '--instance-role'
  if (field.startsWith('importerRoleArn')) return '--importer-role'
  if (field.startsWith('adminArns')) return '--admin'
  if (field === 'allowDebugEnclave') return '--allow-debug-enclave'
  if (field === 'lockKeyPolicy') return '--lock-key-policy'
  if (/^pcr0(?:\[\d+\])?$/.test(field)) return '--pcr0'
  const pcr = /^(?:pcrs\.)?pcr(\d)$/i.exec(field) ?? /^pcrs\.(\d)$/.exec(field)
  return pcr ? `--pcr${pcr[1]}` : `--${field}`
}

/**
 * The attested key policy, from the SDK's `buildKeyPolicy` (the same document the CDK stack and the
 * dev stack apply): Decrypt and GenerateDataKey for the instance role only under the PCR conditions,
 * Encrypt for the importer role, administration without cryptographic use for the admins.
 *
 * @throws UsageError naming the flag of a bad value
 */
export function keyPolicyFor({
  pcr0,
  pcrs = {},
  instanceRoleArn,
  importerRoleArn,
  adminArns,
  allowDebugEnclave = false,
  lockKeyPolicy = false,
}: KeyPolicyCommandParameters): KeyPolicyDocument {
  const extra = Object.fromEntries(Object.entries(pcrs).filter(([, v]) => v !== undefined)) as Partial<Record<1 | 2 | 3 | 4 | 8, string>>
  try {
    return buildKeyPolicy({ pcr0, pcrs: extra, instanceRoleArn, importerRoleArn, adminArns: [...adminArns], allowDebugEnclave, lockKeyPolicy })
  } catch (e) {
    if (isCustodyError(e, 'INVALID_ARGUMENT')) {
      const { field, rule } = (e.details ?? {}) as { field?: string; rule?: string }
      if (field && rule) throw new UsageError(`${flagOf(field)} ${rule.replace('pass allowDebugEnclave', 'pass --allow-debug-enclave')}`)
    }
    throw e
  }
}

/**
 * Replace the key policy of `keyId` (KMS PutKeyPolicy). KMS's lockout safety check stays on, except for a
 * locked policy (`lockKeyPolicy`), which takes PutKeyPolicy from everyone by design and so can only be
 * applied with `BypassPolicyLockoutSafetyCheck` — irreversibly.
 * @throws CommandFailure with the AWS error name and message
 */
export async function applyKeyPolicy(
  { keyId, policy, lockKeyPolicy = false }: { keyId: string; policy: KeyPolicyDocument; lockKeyPolicy?: boolean },
  { kms }: { kms: Pick<KMSClient, 'send'> },
): Promise<void> {
  try {
    await kms.send(new PutKeyPolicyCommand({ KeyId: keyId, Policy: JSON.stringify(policy), BypassPolicyLockoutSafetyCheck: lockKeyPolicy }))
  } catch (e) {
    throw new CommandFailure(`PutKeyPolicy on ${keyId} failed: ${awsErrorText(e)}`)
  }
}

/** `--pcr0` repeats, and each occurrence may be a comma-separated list. */
const pcr0List = z
  .array(z.string())
  .transform((values) => values.flatMap((v) => v.split(',')).map((v) => v.trim()))
  .pipe(z.array(hex96).min(1, 'needs at least one value'))

const LOCK_WARNING =
  'WARNING: --lock-key-policy is IRREVERSIBLE. Nobody, not even the account root, can change this key policy again; its PCR0 list is final, so an enclave image built later can never unseal keys sealed under this KMS key.\n'

const pcrOption = (n: 1 | 2 | 3 | 4 | 8, what: string) =>
  ({ flag: `pcr${n}`, value: 'hex', help: `also require PCR${n} (${what})`, schema: hex96.optional() }) satisfies OptionSpec

export const keyPolicyCommand = defineCommand({
  name: 'key-policy',
  summary: 'print or apply the attested KMS key policy',
  usage:
    'custody key-policy --pcr0 <hex>[,<hex>…]… --instance-role <arn> --importer-role <arn> --admin <arn>… [--pcr1 <hex> …]\n       [--allow-debug-enclave] [--lock-key-policy] [--apply --key-id <id> [--region <region>] [--aws-endpoint <url>]]',
  description:
    'Prints the key policy as JSON: kms:Decrypt and kms:GenerateDataKey for the instance role only with a Nitro\nattestation whose PCR0 (and given PCRs) match, kms:Encrypt for the importer role, administration without\ndecrypt or grants for the admins, and Denies no later Allow can override. Several --pcr0 values (repeat the\nflag or separate with commas) let the current and the next image decrypt during a rolling update.\nWith --apply, sets it on the key (KMS PutKeyPolicy; AWS credentials: default chain).\n--lock-key-policy is IRREVERSIBLE: nobody can ever change the policy again (applied with\nBypassPolicyLockoutSafetyCheck).',
  options: {
    pcr0: {
      flag: 'pcr0',
      value: 'hex',
      help: 'PCR0 of the enclave image (see custody pcr0); repeat or comma-separate to accept several (rotation)',
      multiple: true,
      schema: pcr0List,
      required: true,
    },
    pcr1: pcrOption(1, 'kernel and bootstrap'),
    pcr2: pcrOption(2, 'application'),
    pcr3: pcrOption(3, "parent instance's IAM role"),
    pcr4: pcrOption(4, 'parent instance id'),
    pcr8: pcrOption(8, 'image signing certificate'),
    instanceRole: { flag: 'instance-role', value: 'arn', help: 'role of the enclave instances', schema: arn, required: true },
    importerRole: { flag: 'importer-role', value: 'arn', help: 'role that imports keys', schema: arn, required: true },
    admin: { flag: 'admin', value: 'arn', help: 'key administrator', multiple: true, schema: z.array(arn), required: true },
    allowDebugEnclave: {
      flag: 'allow-debug-enclave',
      boolean: true,
      help: 'accept the all-zero PCR0 of a debug-mode enclave (any code!) — development only',
      schema: z.boolean().default(false),
    },
    lockKeyPolicy: {
      flag: 'lock-key-policy',
      boolean: true,
      help: 'IRREVERSIBLE: deny kms:PutKeyPolicy to everyone, for ever',
      schema: z.boolean().default(false),
    },
    apply: { flag: 'apply', boolean: true, help: 'apply with PutKeyPolicy instead of printing', schema: z.boolean().default(false) },
    keyId: { flag: 'key-id', value: 'id', help: 'KMS key id, ARN or alias (with --apply)', schema: z.string().min(1).max(2048).optional() },
    region: { flag: 'region', value: 'region', help: 'AWS region (default: AWS_REGION or the profile)', schema: regionSchema.optional() },
    awsEndpoint: { flag: 'aws-endpoint', value: 'url', help: 'KMS endpoint, for local-aws (default: AWS)', schema: httpUrl.optional() },
  },
  async run({ options: o, io }) {
    if (o.apply && o.keyId === undefined) throw new UsageError('--apply needs --key-id')
    if (!o.apply && o.keyId !== undefined) throw new UsageError('--key-id is only used with --apply')
    const policy = keyPolicyFor({
      pcr0: o.pcr0,
      pcrs: { 1: o.pcr1, 2: o.pcr2, 3: o.pcr3, 4: o.pcr4, 8: o.pcr8 },
      instanceRoleArn: o.instanceRole,
      importerRoleArn: o.importerRole,
      adminArns: o.admin,
      allowDebugEnclave: o.allowDebugEnclave,
      lockKeyPolicy: o.lockKeyPolicy,
    })
    if (o.lockKeyPolicy) io.stderr(LOCK_WARNING)
    if (!o.apply) {
      io.stdout(`${JSON.stringify(policy, null, 2)}\n`)
      return 0
    }
    const kms = new KMSClient(awsClientConfig({ region: o.region, endpoint: o.awsEndpoint }))
    try {
      await applyKeyPolicy({ keyId: o.keyId!, policy, lockKeyPolicy: o.lockKeyPolicy }, { kms })
    } finally {
      kms.destroy()
    }
    const pcrs = ['PCR0', ...[1, 2, 3, 4, 8].filter((n) => o[`pcr${n}` as 'pcr1'] !== undefined).map((n) => `PCR${n}`)].join('+')
    const images = [...new Set(o.pcr0.map((v) => v.toLowerCase()))].map((v) => `${v.slice(0, 12)}…`).join(' or ')
    const locked = o.lockKeyPolicy ? '; the policy is now LOCKED for ever' : ''
    io.stdout(`applied to ${o.keyId}: Decrypt/GenerateDataKey for ${o.instanceRole} under ${pcrs} ${images}, Encrypt for ${o.importerRole}, administration for ${o.admin.join(', ')}${locked}\n`)
    return 0
  },
})
