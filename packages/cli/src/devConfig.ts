import { randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { writeFileAtomic } from '@enclave-custody/enclave-runtime'
import type { IdentityPolicyDocument } from '@enclave-custody/local-aws'
import { DEFAULT_POLICY_SECRET_PREFIX, DEFAULT_SECRET_PREFIX } from '@enclave-custody/sdk'
import { z } from 'zod'

const Principal = z.strictObject({ accessKeyId: z.string(), secretAccessKey: z.string(), arn: z.string() })
export type DevPrincipal = z.infer<typeof Principal>

/** The dev stack's own settings, created on first start under the data directory (mode 0600). */
const DevConfig = z.strictObject({
  version: z.literal(1),
  accountId: z.string().regex(/^\d{12}$/),
  region: z.string(),
  /** The roles of production, as local-aws principals: signing credentials only these files hold. */
  principals: z.strictObject({ admin: Principal, importer: Principal, instance: Principal }),
  kmsKeyId: z.string().optional(),
})
export type DevConfig = z.infer<typeof DevConfig>

const accessKeyId = () => `AKIA${randomBytes(12).toString('base64url').replace(/[^A-Za-z0-9]/g, 'X').toUpperCase().slice(0, 16)}`
const principal = (accountId: string, role: string): DevPrincipal => ({
  accessKeyId: accessKeyId(),
  secretAccessKey: randomBytes(30).toString('base64'),
  arn: `arn:aws:iam::${accountId}:role/${role}`,
})

export const devConfigPath = (dataDir: string) => join(dataDir, 'dev.json')

export type DevIdentityPolicies = Record<keyof DevConfig['principals'], IdentityPolicyDocument>

/**
 * The IAM identity policies of the three roles, least privilege as the CDK stack grants them (local-aws
 * enforces them): the admin creates and administers KMS keys (never uses them: the key policy has the last
 * word), the importer creates and updates records under the secret prefix (never reads or deletes them), the
 * instance role reads, describes and lists records (never writes, creates or deletes them). KMS use needs no
 * IAM statement: the key policy names the importer and the instance role directly.
 *
 * @param parameters - the account and region of the dev stack, and the record prefix
 * @returns one identity policy per role
 * @example
 * import { devIdentityPolicies } from '@enclave-custody/cli'
 * const { instance } = devIdentityPolicies({ accountId: '000000000000', region: 'us-east-1' })
 */
export function devIdentityPolicies({ accountId, region, secretPrefix = DEFAULT_SECRET_PREFIX }: { accountId: string; region: string; secretPrefix?: string }): DevIdentityPolicies {
  const records = `arn:aws:secretsmanager:${region}:${accountId}:secret:${secretPrefix}*`
  // Signed signing policies (`signingPolicySecretName`): the enclave reads them with the instance role's credentials; the importer stores them.
  const policies = `arn:aws:secretsmanager:${region}:${accountId}:secret:${DEFAULT_POLICY_SECRET_PREFIX}*`
  const keys = `arn:aws:kms:${region}:${accountId}:key/*`
  return {
    admin: {
      Version: '2012-10-17',
      Statement: [
        { Sid: 'CreateKeys', Effect: 'Allow', Action: ['kms:CreateKey', 'kms:ListKeys', 'kms:ListAliases'], Resource: '*' },
        {
          Sid: 'AdministerKeys',
          Effect: 'Allow',
          Action: ['kms:DescribeKey', 'kms:CreateAlias', 'kms:GetKeyPolicy', 'kms:PutKeyPolicy', 'kms:EnableKeyRotation', 'kms:GetKeyRotationStatus'],
          Resource: keys,
        },
      ],
    },
    importer: {
      Version: '2012-10-17',
      Statement: [
        { Sid: 'WriteNewRecords', Effect: 'Allow', Action: ['secretsmanager:CreateSecret', 'secretsmanager:PutSecretValue'], Resource: records },
        { Sid: 'StoreSigningPolicies', Effect: 'Allow', Action: ['secretsmanager:CreateSecret', 'secretsmanager:PutSecretValue', 'secretsmanager:GetSecretValue'], Resource: policies },
      ],
    },
    instance: {
      Version: '2012-10-17',
      Statement: [
        { Sid: 'ReadRecords', Effect: 'Allow', Action: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'], Resource: records },
        { Sid: 'ListRecords', Effect: 'Allow', Action: 'secretsmanager:ListSecrets', Resource: '*' },
        { Sid: 'ReadSigningPolicies', Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: policies },
      ],
    },
  }
}

/** Load `<dataDir>/dev.json`, creating it (fresh random credentials) on first use. */
export async function loadDevConfig(dataDir: string): Promise<DevConfig> {
  try {
    return DevConfig.parse(JSON.parse(await readFile(devConfigPath(dataDir), 'utf8')))
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`${devConfigPath(dataDir)} is unreadable; delete the data directory to start over`)
  }
  const accountId = '000000000000'
  const config: DevConfig = {
    version: 1,
    accountId,
    region: 'us-east-1',
    principals: {
      admin: principal(accountId, 'custody-admin'),
      importer: principal(accountId, 'custody-importer'),
      instance: principal(accountId, 'custody-instance'),
    },
  }
  await saveDevConfig(dataDir, config)
  return config
}

export async function saveDevConfig(dataDir: string, config: DevConfig): Promise<void> {
  await writeFileAtomic(devConfigPath(dataDir), `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 })
}
