/** The parts of a KMS key ARN. */
export type ParsedKmsKeyArn = {
  /** The ARN as given (already the canonical form: KMS writes key ARNs in lower case). */
  readonly arn: string
  /** `aws`, `aws-cn`, `aws-us-gov`, … */
  readonly partition: string
  readonly region: string
  readonly account: string
  /** The key id: a UUID, or `mrk-<32 hex>` for a multi-Region key. */
  readonly keyId: string
}

/** The parts of the ARN, or the rule the value breaks. */
export type ParseKmsKeyArnReturnType = { ok: true; value: ParsedKmsKeyArn } | { ok: false; rule: string }

// arn:<partition>:kms:<region>:<12-digit account>:key/<uuid | mrk-<32 hex>>, the form the enclave image pins.
const KEY_ARN =
  /^arn:(aws(?:-[a-z]+)*):kms:([a-z]{2}(?:-[a-z]+)+-\d{1,2}):(\d{12}):key\/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})$/
const ALIAS = /^(?:alias\/|arn:aws(?:-[a-z]+)*:kms:[^:]*:[^:]*:alias\/)/i
const BARE_KEY_ID = /^(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})$/i

/**
 * Check that a value is the full ARN of a KMS key — `arn:<partition>:kms:<region>:<12-digit account>:key/<uuid
 * or mrk-…>` — and split it. The sealing key is measured into the enclave image (PCR0) in exactly this form,
 * and the infra uses the same string everywhere it names the key. An alias is refused (whoever administers the
 * alias can point it at another key), and so is a bare key id (it names neither the account nor the region).
 * The same rules as the runtime's `checkKmsKeyArn`; the rule text never echoes the value.
 *
 * @param value The candidate, e.g. a `-c kmsKeyArn=…` context value.
 * @returns `{ ok: true, value }` with the parts, or `{ ok: false, rule }` saying what is wrong.
 * @example
 * import { parseKmsKeyArn } from './parseKmsKeyArn.js'
 * parseKmsKeyArn('arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab') // { ok: true, value: { region: 'eu-west-1', … } }
 * parseKmsKeyArn('alias/custody') // { ok: false, rule: 'must be a KMS key ARN, not an alias …' }
 */
export function parseKmsKeyArn(value: unknown): ParseKmsKeyArnReturnType {
  const generic = 'must be a full KMS key ARN: arn:aws:kms:<region>:<12-digit account>:key/<key id>'
  if (typeof value !== 'string' || value.length === 0 || value.length > 2048) return { ok: false, rule: generic }
  if (ALIAS.test(value)) return { ok: false, rule: 'must be a KMS key ARN, not an alias (an alias can be pointed at another key)' }
  if (BARE_KEY_ID.test(value)) return { ok: false, rule: 'must be the full KMS key ARN, not a bare key id (the ARN pins the account and region)' }
  const match = KEY_ARN.exec(value)
  if (!match) return { ok: false, rule: generic }
  const [, partition, region, account, keyId] = match as unknown as [string, string, string, string, string]
  return { ok: true, value: { arn: value, partition, region, account, keyId } }
}
