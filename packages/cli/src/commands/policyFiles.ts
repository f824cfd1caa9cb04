import { readFile, stat } from 'node:fs/promises'
import { resolve } from 'node:path'
import {
  canonicalApiKey,
  FACT_NAMES,
  type Hex,
  isCustodyError,
  normalizeSigningPolicy,
  normalizeSigningPolicyDocument,
  type PolicyApproval,
  type SignedSigningPolicy,
  type SigningPolicy,
} from '@enclave-custody/sdk'
import { SigningKey } from 'ethers'
import { operationNames, type ParsedRequest, parseParams } from '@enclave-custody/sdk/protocol'
import type { CliIo } from './cliIo.js'
import { UsageError } from './cliOptions.js'

/** Larger than any policy (64 rules of 256 values) or payload the enclave takes: a bigger file is refused unread. */
export const MAX_POLICY_FILE_BYTES = 1024 * 1024

/** The fields a `policy get --json` output adds around `{ document, approvals }` (accepted back as input). */
const STATE_FIELDS = ['keyId', 'version', 'digest'] as const

/**
 * What a policy file holds: rules and signers to approve (`{ rules, signers?, version? }`), or a document already
 * approved (`{ document, approvals }`, also as `custody policy get --json` prints it).
 */
export type PolicyFile =
  | { kind: 'rules'; policy: SigningPolicy; version?: number }
  | { kind: 'signed'; policy: SigningPolicy; signed: SignedSigningPolicy }

/** A signing request as a payload file gives it: the wire request's `op` and validated `params`. */
export type PayloadFile = { request: ParsedRequest }

/** The operations `custody policy test` evaluates: every signing operation of the protocol (a batch is its items). */
export const SIGNING_OPERATIONS = operationNames.filter((op) => op.startsWith('sign.') && op !== 'sign.batch')

/** The keyId a payload gets when it names none (the offline test signs nothing; it only names limit buckets). */
export const OFFLINE_KEY_ID = 'policy-test'

/** Line and column of a 0-based character offset. */
function lineColumn(text: string, offset: number): string {
  const before = text.slice(0, offset).split('\n')
  return `line ${before.length}, column ${before.at(-1)!.length + 1}`
}

/**
 * Read a JSON file named by `source` (a flag), at most {@link MAX_POLICY_FILE_BYTES}. A file that is not JSON is
 * named with the line and column where parsing stopped, never quoted (it may be something secret given by mistake).
 *
 * @throws UsageError naming the flag and the file
 */
export async function readJsonFile(file: string, io: CliIo, source: string): Promise<unknown> {
  const path = resolve(io.cwd, file)
  let text: string
  try {
    const info = await stat(path)
    if (!info.isFile()) throw new UsageError(`${source}: ${file} is not a regular file`)
    if (info.size > MAX_POLICY_FILE_BYTES) throw new UsageError(`${source}: ${file} is larger than ${MAX_POLICY_FILE_BYTES} bytes`)
    text = await readFile(path, 'utf8')
  } catch (e) {
    if (e instanceof UsageError) throw e
    throw new UsageError(`${source}: cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? 'error'})`)
  }
  try {
    return JSON.parse(text)
  } catch (e) {
    // JSON.parse quotes the text it choked on: only its position travels.
    const position = /position (\d+)/.exec(String((e as Error).message))
    throw new UsageError(`${source}: ${file} is not JSON${position ? ` (at ${lineColumn(text, Number(position[1]))})` : ''}`)
  }
}

/**
 * An SDK validation error as a usage error naming the flag, the file, the field and the rule. A field the schema
 * calls an unknown member of a rule's `when` is named as what it is: not a fact.
 */
export function fileFieldError(e: unknown, source: string, file: string): unknown {
  if (!isCustodyError(e, 'INVALID_ARGUMENT')) return e
  const { field, rule } = (e.details ?? {}) as { field?: string; rule?: string }
  if (field === undefined || rule === undefined) return e
  const unknownFact = /\.when$/.test(field) ? /^has unknown fields? "([^"]*)"/.exec(rule) : null
  if (unknownFact) return new UsageError(`${source} ${file}: "${field}.${unknownFact[1]}" is not a fact (facts: ${FACT_NAMES.join(', ')})`)
  return new UsageError(`${source} ${file}: "${field}" ${rule}`)
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/**
 * Read and check a policy file (`--file`): `{ rules, signers?, version? }` through `normalizeSigningPolicy`, or an
 * approved `{ document, approvals }` through `normalizeSigningPolicyDocument` (the approvals are the enclave's to
 * verify against the key's owners). Unknown facts, operators and fields are refused here, before anything is sent.
 *
 * @param file - the path as given (relative to `io.cwd`)
 * @returns the canonical policy, and the approved document when the file holds one
 * @throws UsageError naming the flag, the file, the field and the rule
 * @example
 * const { policy } = await readPolicyFile('treasury.json', io)
 */
export async function readPolicyFile(file: string, io: CliIo, source = '--file'): Promise<PolicyFile> {
  const value = await readJsonFile(file, io, source)
  if (!isObject(value)) throw new UsageError(`${source} ${file}: must hold a JSON object { "rules": [...], "signers": [...] } or { "document": {...}, "approvals": [...] }`)
  try {
    if (Object.hasOwn(value, 'document')) {
      const unknown = Object.keys(value).filter((k) => k !== 'document' && k !== 'approvals' && !(STATE_FIELDS as readonly string[]).includes(k))
      if (unknown.length > 0) throw new UsageError(`${source} ${file}: an approved policy has unknown field "${unknown[0]!.slice(0, 40)}" (expected document, approvals)`)
      const document = normalizeSigningPolicyDocument(value.document, 'document')
      if (!Array.isArray(value.approvals)) throw new UsageError(`${source} ${file}: "approvals" must be a list of approvals (approveSigningPolicy)`)
      return { kind: 'signed', policy: { rules: document.rules, signers: document.signers }, signed: { document, approvals: value.approvals as PolicyApproval[] } }
    }
    const { version, ...rest } = value
    if (version !== undefined && (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 1)) {
      throw new UsageError(`${source} ${file}: "version" must be an integer of at least 1`)
    }
    return { kind: 'rules', policy: normalizeSigningPolicy(rest, 'policy'), ...(version === undefined ? {} : { version }) }
  } catch (e) {
    throw fileFieldError(e, source, file)
  }
}

/**
 * Read a payload file (`--payload`): a signing request as it goes on the wire, `{ "op": "sign.…", "params": {…} }`
 * (an approval request from `custody.approvalRequest.<method>(…)`, with its `v`, `aud` and `requester`, is one too). `params`
 * is checked by the protocol's own schema (`parseParams`), so a payload the enclave would refuse is refused here;
 * `params.keyId` may be left out.
 *
 * @throws UsageError naming the flag, the file, the field and the rule
 * @example
 * const { request } = await readPayloadFile('transfer.json', io)
 */
export async function readPayloadFile(file: string, io: CliIo, source = '--payload'): Promise<PayloadFile> {
  const value = await readJsonFile(file, io, source)
  if (!isObject(value)) throw new UsageError(`${source} ${file}: must hold a JSON object { "op": "sign.…", "params": {…} }`)
  const unknown = Object.keys(value).filter((k) => !['op', 'params', 'v', 'aud', 'requester', 'id'].includes(k))
  if (unknown.length > 0) throw new UsageError(`${source} ${file}: has unknown field "${unknown[0]!.slice(0, 40)}" (expected op, params)`)
  const { op, params } = value
  if (typeof op !== 'string' || !(SIGNING_OPERATIONS as string[]).includes(op)) {
    throw new UsageError(`${source} ${file}: "op" must be one of ${SIGNING_OPERATIONS.join(', ')}`)
  }
  if (!isObject(params)) throw new UsageError(`${source} ${file}: "params" must be an object (the operation's wire params)`)
  try {
    const request = parseParams({ id: 'policy-test', op: op as ParsedRequest['op'], params: { keyId: OFFLINE_KEY_ID, ...params } })
    return { request }
  } catch (e) {
    if (!isCustodyError(e, 'INVALID_ARGUMENT')) throw e
    const { field, rule } = (e.details ?? {}) as { field?: string; rule?: string }
    if (field === undefined || rule === undefined) throw e
    throw new UsageError(`${source} ${file}: "${field === 'params' ? field : `params.${field}`}" ${rule}`)
  }
}

/**
 * An API public key given as a flag (`--signer`, `--approver`), canonical (compressed). A private key given by
 * mistake is refused without being echoed.
 *
 * @throws UsageError naming the flag
 */
export function apiKeyArgument(value: string, flag: string): Hex {
  if (/^(?:0x)?[0-9a-fA-F]{64}$/.test(value.trim())) throw new UsageError(`${flag} takes an API public key (33 or 65 bytes), never a private key`)
  try {
    return canonicalApiKey(value.trim(), flag)
  } catch {
    throw new UsageError(`${flag} must be 0x-hex of an API public key (a SEC1 P-256 point, 33 or 65 bytes)`)
  }
}

/**
 * A secp256k1 public key given as a flag (`--public-key`): 33 or 65 bytes of hex, `0x` optional, on the curve.
 * A private key given by mistake (32 bytes) is refused without being echoed.
 *
 * @returns the key, compressed (33 bytes)
 * @throws UsageError naming the flag
 */
export function secp256k1PublicKeyArgument(value: string, flag: string): Uint8Array {
  const hex = value.trim().replace(/^0x/i, '')
  if (/^[0-9a-fA-F]{64}$/.test(hex)) throw new UsageError(`${flag} takes a public key (33 or 65 bytes), never a private key`)
  if (!/^(?:0[23][0-9a-fA-F]{64}|04[0-9a-fA-F]{128})$/.test(hex)) throw new UsageError(`${flag} must be hex of a secp256k1 public key (33 bytes compressed or 65 uncompressed)`)
  try {
    return Uint8Array.from(Buffer.from(SigningKey.computePublicKey(`0x${hex}`, true).slice(2), 'hex'))
  } catch {
    throw new UsageError(`${flag} is not a point of secp256k1`)
  }
}
