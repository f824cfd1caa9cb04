import { KMSClient, PutKeyPolicyCommand } from '@aws-sdk/client-kms'
import { buildKeyPolicy, isCustodyError, type KeyPolicyDocument } from '@enclave-custody/sdk'
import { z } from 'zod'
import { CommandFailure, type OptionSpec, UsageError } from './cliOptions.js'
import { awsClientConfig, awsErrorText, httpUrl, regionSchema } from './connection.js'
import { defineCommand } from './defineCommand.js'

const hex96 = z.string().regex(/^[0-9a-fA-F]{96}$/, 'must be 96 hex digits (SHA-384)')
const arn = z.string().min(1)

export type KeyPolicyCommandParameters = {
  pcr0: string
  pcrs?: Partial<Record<1 | 2 | 3 | 4 | 8, string | undefined>>
  instanceRoleArn: string
  importerRoleArn: string
  adminArns: readonly string[]
}

/** The flag that carries each field of buildKeyPolicy's parameters. */
function flagOf(field: string): string {
  if (field.startsWith('instanceRoleArn')) return '--instance-role'
  if (field.startsWith('importerRoleArn')) return '--importer-role'
  if (field.startsWith('adminArns')) return '--admin'
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
export function keyPolicyFor({ pcr0, pcrs = {}, instanceRoleArn, importerRoleArn, adminArns }: KeyPolicyCommandParameters): KeyPolicyDocument {
  const extra = Object.fromEntries(Object.entries(pcrs).filter(([, v]) => v !== undefined)) as Partial<Record<1 | 2 | 3 | 4 | 8, string>>
  try {
    return buildKeyPolicy({ pcr0, pcrs: extra, instanceRoleArn, importerRoleArn, adminArns: [...adminArns] })
  } catch (e) {
    if (isCustodyError(e, 'INVALID_ARGUMENT')) {
      const { field, rule } = (e.details ?? {}) as { field?: string; rule?: string }
      if (field && rule) throw new UsageError(`${flagOf(field)} ${rule}`)
    }
    throw e
  }
}

/**
 * Replace the key policy of `keyId` (KMS PutKeyPolicy, with KMS's lockout safety check on).
 * @throws CommandFailure with the AWS error name and message
 */
export async function applyKeyPolicy({ keyId, policy }: { keyId: string; policy: KeyPolicyDocument }, { kms }: { kms: Pick<KMSClient, 'send'> }): Promise<void> {
  try {
    await kms.send(new PutKeyPolicyCommand({ KeyId: keyId, Policy: JSON.stringify(policy), BypassPolicyLockoutSafetyCheck: false }))
  } catch (e) {
    throw new CommandFailure(`PutKeyPolicy on ${keyId} failed: ${awsErrorText(e)}`)
  }
}

const pcrOption = (n: 1 | 2 | 3 | 4 | 8, what: string) =>
  ({ flag: `pcr${n}`, value: 'hex', help: `also require PCR${n} (${what})`, schema: hex96.optional() }) satisfies OptionSpec

export const keyPolicyCommand = defineCommand({
  name: 'key-policy',
  summary: 'print or apply the attested KMS key policy',
  usage:
    'custody key-policy --pcr0 <hex> --instance-role <arn> --importer-role <arn> --admin <arn>… [--pcr1 <hex> …]\n       [--apply --key-id <id> [--region <region>] [--aws-endpoint <url>]]',
  description:
    'Prints the key policy as JSON: kms:Decrypt and kms:GenerateDataKey for the instance role only with a Nitro\nattestation whose PCR0 (and given PCRs) match, kms:Encrypt for the importer role, administration without\ndecrypt for the admins. With --apply, sets it on the key (KMS PutKeyPolicy; AWS credentials: default chain).',
  options: {
    pcr0: { flag: 'pcr0', value: 'hex', help: 'PCR0 of the enclave image (see custody pcr0)', schema: hex96, required: true },
    pcr1: pcrOption(1, 'kernel and bootstrap'),
    pcr2: pcrOption(2, 'application'),
    pcr3: pcrOption(3, "parent instance's IAM role"),
    pcr4: pcrOption(4, 'parent instance id'),
    pcr8: pcrOption(8, 'image signing certificate'),
    instanceRole: { flag: 'instance-role', value: 'arn', help: 'role of the enclave instances', schema: arn, required: true },
    importerRole: { flag: 'importer-role', value: 'arn', help: 'role that imports keys', schema: arn, required: true },
    admin: { flag: 'admin', value: 'arn', help: 'key administrator', multiple: true, schema: z.array(arn), required: true },
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
    })
    if (!o.apply) {
      io.stdout(`${JSON.stringify(policy, null, 2)}\n`)
      return 0
    }
    const kms = new KMSClient(awsClientConfig({ region: o.region, endpoint: o.awsEndpoint }))
    try {
      await applyKeyPolicy({ keyId: o.keyId!, policy }, { kms })
    } finally {
      kms.destroy()
    }
    const pcrs = ['PCR0', ...[1, 2, 3, 4, 8].filter((n) => o[`pcr${n}` as 'pcr1'] !== undefined).map((n) => `PCR${n}`)].join('+')
    io.stdout(`applied to ${o.keyId}: Decrypt/GenerateDataKey for ${o.instanceRole} under ${pcrs} ${o.pcr0.slice(0, 12).toLowerCase()}…, Encrypt for ${o.importerRole}, administration for ${o.admin.join(', ')}\n`)
    return 0
  },
})
