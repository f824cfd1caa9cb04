import { randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { writeFileAtomic } from '@enclave-custody/enclave-runtime'
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
