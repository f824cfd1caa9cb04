import { GetSecretValueCommand, ListSecretsCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager'
import { DEFAULT_SECRET_PREFIX, type SealedKeyRecord, SealedKeyRecordSchema } from '@enclave-custody/sdk'
import { IntegrityError, KEY_ID_PATTERN, UnavailableError } from '@enclave-custody/sdk/protocol'

/** Where the parent finds sealed key records. */
export type RecordSource = {
  get(keyId: string): Promise<SealedKeyRecord | undefined>
  list(): Promise<SealedKeyRecord[]>
}

export type SecretsManagerRecordSourceOptions = {
  /** A client with the instance role's credentials (secretsmanager:GetSecretValue, ListSecrets on the prefix). */
  client: SecretsManagerClient
  /** @default 'enclave-custody/keys/' */
  prefix?: string
  /** How long a fetched record is served from memory. Records are immutable, so this can be long. @default 300_000 */
  ttlMs?: number
  /** @default 10_000 */
  maxEntries?: number
  now?: () => number
}

/**
 * Records from Secrets Manager (`<prefix><keyId>`), validated against the record schema and cached.
 * The caller names a keyId, never a secret ARN: the secret name is derived here.
 */
export function createSecretsManagerRecordSource({ client, prefix = DEFAULT_SECRET_PREFIX, ttlMs = 300_000, maxEntries = 10_000, now = Date.now }: SecretsManagerRecordSourceOptions): RecordSource {
  const cache = new Map<string, { record: SealedKeyRecord; expires: number }>()
  const inflight = new Map<string, Promise<SealedKeyRecord | undefined>>()

  const remember = (record: SealedKeyRecord) => {
    if (cache.size >= maxEntries) cache.delete(cache.keys().next().value as string)
    cache.set(record.keyId, { record, expires: now() + ttlMs })
  }

  const parse = (keyId: string, text: string | undefined): SealedKeyRecord => {
    let json: unknown
    try {
      json = JSON.parse(text ?? '')
    } catch {
      throw new IntegrityError({ reason: `the record of "${keyId}" in Secrets Manager is not JSON` })
    }
    const parsed = SealedKeyRecordSchema.safeParse(json)
    if (!parsed.success) throw new IntegrityError({ reason: `the record of "${keyId}" in Secrets Manager is malformed` })
    if (parsed.data.keyId !== keyId) throw new IntegrityError({ reason: `the secret of "${keyId}" holds the record of another key` })
    return parsed.data
  }

  async function fetch(keyId: string): Promise<SealedKeyRecord | undefined> {
    try {
      const out = await client.send(new GetSecretValueCommand({ SecretId: `${prefix}${keyId}` }))
      const record = parse(keyId, out.SecretString)
      remember(record)
      return record
    } catch (e) {
      const name = (e as { name?: string }).name
      if (name === 'ResourceNotFoundException' || name === 'InvalidRequestException') return undefined // absent or scheduled for deletion
      if (e instanceof IntegrityError) throw e
      throw new UnavailableError({ reason: `Secrets Manager ${name ?? 'request'} failed` })
    }
  }

  return {
    async get(keyId) {
      if (!KEY_ID_PATTERN.test(keyId)) return undefined
      const hit = cache.get(keyId)
      if (hit && hit.expires > now()) return hit.record
      // One fetch per keyId at a time, however many requests wait for it.
      let pending = inflight.get(keyId)
      if (!pending) {
        pending = fetch(keyId).finally(() => inflight.delete(keyId))
        inflight.set(keyId, pending)
      }
      return pending
    },
    async list() {
      const keyIds: string[] = []
      let NextToken: string | undefined
      do {
        const page = await client
          .send(new ListSecretsCommand({ Filters: [{ Key: 'name', Values: [prefix] }], MaxResults: 100, NextToken }))
          .catch((e: { name?: string }) => {
            throw new UnavailableError({ reason: `Secrets Manager ${e.name ?? 'ListSecrets'} failed` })
          })
        for (const s of page.SecretList ?? []) {
          if (s.Name?.startsWith(prefix) && !s.DeletedDate) keyIds.push(s.Name.slice(prefix.length))
        }
        NextToken = page.NextToken
      } while (NextToken)
      const records = await Promise.all(keyIds.filter((k) => KEY_ID_PATTERN.test(k)).map((k) => this.get(k)))
      return records.filter((r): r is SealedKeyRecord => r !== undefined).sort((a, b) => a.keyId.localeCompare(b.keyId))
    },
  }
}
