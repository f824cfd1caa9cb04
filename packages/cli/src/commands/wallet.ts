import type { CustodyClient, KeyInfo } from '@enclave-custody/sdk'
import { z } from 'zod'
import type { CliIo } from './cliIo.js'
import { numberFlag, type OptionSpec, UsageError } from './cliOptions.js'
import { connect, credentialsOf, importerOptions, keyIdSchema, PROXY_HELP, PROXY_USAGE, proxyOptions } from './connection.js'
import { defineCommand } from './defineCommand.js'
import { keyJson, keyPolicyOptions, policyOf, printKey } from './keyCommands.js'
import { readMnemonic, readPassphrase } from './readMnemonic.js'

/** The chain families an HD account serves. */
export const ACCOUNT_FAMILIES = ['evm', 'bitcoin', 'solana'] as const
/** The Bitcoin networks and address formats of a Bitcoin account. */
export const BITCOIN_NETWORK_NAMES = ['mainnet', 'testnet', 'signet', 'regtest'] as const
export const BITCOIN_ADDRESS_FORMATS = ['p2pkh', 'p2sh-p2wpkh', 'p2wpkh', 'p2tr'] as const

const ACTIONS = ['create', 'import', 'account', 'list'] as const
type Action = (typeof ACTIONS)[number]

/** A required option of the importer, optional here because `wallet list` needs none of them. */
const notRequired = <S extends OptionSpec>(spec: S) => ({ ...spec, required: false, schema: spec.schema.optional() })

const walletOptions = {
  walletId: { flag: 'wallet-id', value: 'id', help: 'create, import: id to give the wallet (default: random)', schema: keyIdSchema.optional() },
  words: {
    flag: 'words',
    value: '12|15|18|21|24',
    help: 'create: mnemonic length of the entropy the enclave draws (default: 24)',
    schema: z
      .enum(['12', '15', '18', '21', '24'], { error: 'must be 12, 15, 18, 21 or 24' })
      .transform((v) => Number(v) as 12 | 15 | 18 | 21 | 24)
      .optional(),
  },
  mnemonicFile: { flag: 'mnemonic-file', value: 'path', help: 'import: file holding the BIP-39 mnemonic ("-" = stdin; default: stdin when piped)', schema: z.string().min(1).optional() },
  passphraseFile: { flag: 'passphrase-file', value: 'path', help: 'import: file holding the BIP-39 passphrase (default: none)', schema: z.string().min(1).optional() },
  mnemonic: { flag: 'mnemonic', value: 'words', help: 'refused: a mnemonic is never taken from the command line (use --mnemonic-file or stdin)', schema: z.string().optional() },
  family: {
    flag: 'family',
    value: 'evm|bitcoin|solana',
    help: 'account add: the chain family of the account',
    schema: z.enum(ACCOUNT_FAMILIES, { error: `must be one of ${ACCOUNT_FAMILIES.join(', ')}` }).optional(),
  },
  keyId: { flag: 'key-id', value: 'id', help: 'account add: id to give the account (default: random)', schema: keyIdSchema.optional() },
  path: {
    flag: 'path',
    value: 'path',
    help: "account add: BIP-32 path, e.g. m/84'/0'/0'/0/0 (default: the family's path at --index)",
    schema: z
      .string()
      .regex(/^m(?:\/(?:0|[1-9][0-9]{0,9})['h]?){1,10}$/, "must be a BIP-32 path such as m/44'/60'/0'/0/0")
      .optional(),
  },
  index: {
    flag: 'index',
    value: 'n',
    help: "account add: account index in the family's default path (default: the next one)",
    schema: numberFlag({ min: 0, max: 0x7fffffff }).optional(),
  },
  network: {
    flag: 'network',
    value: 'network',
    help: 'account add (bitcoin): mainnet, testnet, signet or regtest (default: mainnet)',
    schema: z.enum(BITCOIN_NETWORK_NAMES, { error: `must be one of ${BITCOIN_NETWORK_NAMES.join(', ')}` }).optional(),
  },
  format: {
    flag: 'format',
    value: 'format',
    help: 'account add (bitcoin): address format p2pkh, p2sh-p2wpkh, p2wpkh or p2tr (default: p2wpkh)',
    schema: z.enum(BITCOIN_ADDRESS_FORMATS, { error: `must be one of ${BITCOIN_ADDRESS_FORMATS.join(', ')}` }).optional(),
  },
  json: { flag: 'json', boolean: true, help: 'print JSON', schema: z.boolean().default(false) },
  ...keyPolicyOptions,
  ...proxyOptions,
  kmsKeyId: notRequired(importerOptions.kmsKeyId),
  awsEndpoint: importerOptions.awsEndpoint,
  region: importerOptions.region,
} satisfies Record<string, OptionSpec>

type WalletOptions = { [K in keyof typeof walletOptions]: z.output<(typeof walletOptions)[K]['schema']> }

/** Which flags belong to which action. */
const ONLY_FOR: Partial<Record<keyof WalletOptions, readonly Action[]>> = {
  walletId: ['create', 'import'],
  words: ['create'],
  mnemonicFile: ['import'],
  passphraseFile: ['import'],
  family: ['account'],
  keyId: ['account'],
  path: ['account'],
  index: ['account'],
  network: ['account'],
  format: ['account'],
  allowRawDigest: ['create', 'import'],
  allowReplayableLegacy: ['create', 'import'],
  allowAnyChainAuthorization: ['create', 'import'],
  allowUnprovenBitcoinAmounts: ['create', 'import'],
  allowBitcoinSighashTypes: ['create', 'import'],
}

function checkFlags(action: Action, o: WalletOptions): void {
  for (const [key, actions] of Object.entries(ONLY_FOR) as [keyof WalletOptions, readonly Action[]][]) {
    const v = o[key]
    if (v !== undefined && v !== false && !actions.includes(action)) {
      throw new UsageError(`--${walletOptions[key].flag} is not an option of \`wallet ${action}\` (only of ${actions.map((a) => `wallet ${a === 'account' ? 'account add' : a}`).join(', ')})`)
    }
  }
}

/** One wallet and its accounts, as `wallet list` shows them. */
export type WalletListing = { wallet: KeyInfo; accounts: KeyInfo[] }

/**
 * The HD wallets the deployment serves with their accounts (by wallet, in listing order). Accounts whose wallet is
 * not listed (another owner's) are left out.
 */
export async function listWallets({ client }: { client: CustodyClient }): Promise<WalletListing[]> {
  const keys = await client.listKeys()
  return keys.filter((k) => k.kind === 'hd-wallet').map((wallet) => ({ wallet, accounts: keys.filter((k) => k.kind === 'hd-account' && k.walletId === wallet.keyId) }))
}

/** The listing as text: one header line per wallet, then its accounts aligned (keyId, family, path, address). */
export function formatWallets(listing: readonly WalletListing[]): string {
  const accounts = listing.flatMap((l) => l.accounts)
  const idWidth = Math.max(6, ...accounts.map((a) => a.keyId.length))
  const pathWidth = Math.max(4, ...accounts.map((a) => (a.path ?? '').length))
  return listing
    .map(({ wallet, accounts }) => {
      const head = `wallet ${wallet.keyId}  fingerprint ${wallet.fingerprint ?? '?'}  created ${wallet.createdAt.toISOString()}  ${accounts.length} account${accounts.length === 1 ? '' : 's'}`
      const rows = accounts.map((a) => `  ${a.keyId.padEnd(idWidth)}  ${(a.family ?? '').padEnd(7)}  ${(a.path ?? '').padEnd(pathWidth)}  ${a.address}${a.network && a.network !== 'mainnet' ? ` (${a.network})` : ''}`)
      return [head, ...rows].join('\n')
    })
    .join('\n')
    .concat('\n')
}

const walletJson = ({ wallet, accounts }: WalletListing) => ({
  walletId: wallet.keyId,
  fingerprint: wallet.fingerprint,
  createdAt: wallet.createdAt.toISOString(),
  policy: wallet.policy,
  accounts: accounts.map((a) => {
    const { keyId, family, path, address, network, format } = keyJson(a) as Record<string, unknown>
    return { keyId, family, path, address, ...(network === undefined ? {} : { network }), ...(format === undefined ? {} : { format }) }
  }),
})

function importerOf(o: WalletOptions) {
  if (o.kmsKeyId === undefined) throw new UsageError(`--kms-key-id is required (or set ${walletOptions.kmsKeyId.env})`)
  return { kmsKeyId: o.kmsKeyId, awsEndpoint: o.awsEndpoint, region: o.region }
}

function printWallet(io: CliIo, wallet: KeyInfo, json: boolean): void {
  if (json) io.stdout(`${JSON.stringify(keyJson(wallet))}\n`)
  else io.stdout(`walletId     ${wallet.keyId}\nfingerprint  ${wallet.fingerprint ?? '?'}\n`)
}

export const walletCommand = defineCommand({
  name: 'wallet',
  summary: 'HD wallets: create, import (BIP-39), add accounts, list',
  usage: [
    `custody wallet create [--wallet-id <id>] [--words 12|15|18|21|24] [--json] ${PROXY_USAGE} [--kms-key-id <id> …]`,
    '       custody wallet import [--mnemonic-file <path> | < mnemonic.txt] [--passphrase-file <path>] [--wallet-id <id>] [--json] …',
    "       custody wallet account add <walletId> --family evm|bitcoin|solana [--path <path> | --index <n>] [--network <n>] [--format <f>]",
    '       [--key-id <id>] [--json] …',
    '       custody wallet list [--json] …',
  ].join('\n'),
  description: [
    'create        the enclave draws the BIP-39 entropy; the mnemonic never leaves it.',
    'import        reads a mnemonic from --mnemonic-file or standard input (never from the command line) and seals it',
    '              to the attested enclave (HPKE: the proxy sees only ciphertext).',
    "account add   derives an account of the wallet in the enclave: EVM m/44'/60'/0'/0/n, Bitcoin m/purpose'/coin'/n'/0/0",
    "              (purpose by --format, coin by --network), Solana m/44'/501'/n'/0'. It shares the wallet's owners and policy.",
    'list          the wallets and their accounts (keyId, family, path, address).',
    'create, import and account add store the sealed record with the importer role (--kms-key-id). The --allow-… flags of',
    "create and import seal the wallet's key policy, which its accounts share.",
    PROXY_HELP,
  ].join('\n'),
  positionals: [
    { name: 'action', help: 'create | import | account | list', schema: z.enum(ACTIONS, { error: 'must be create, import, account or list' }) },
    { name: 'sub', help: 'account: add', schema: z.string(), optional: true },
    { name: 'walletId', help: 'account add: the wallet', schema: z.string(), optional: true },
  ],
  options: walletOptions,
  async run({ options, positionals: [action, sub, walletArg], io, devEnv }) {
    const o = options as WalletOptions
    if (o.mnemonic !== undefined) throw new UsageError('--mnemonic is refused: a mnemonic on the command line ends up in shell history and `ps`; give --mnemonic-file <path> or pipe it on standard input')
    checkFlags(action as Action, o)
    if (action === 'account') {
      if (sub !== 'add') throw new UsageError('`wallet account` takes `add <walletId>`')
      if (walletArg === undefined) throw new UsageError('<walletId> is required for `wallet account add`')
      const walletId = keyIdSchema.safeParse(walletArg)
      if (!walletId.success) throw new UsageError(`<walletId> ${walletId.error.issues[0]?.message ?? 'is invalid'}`)
      if (o.family === undefined) throw new UsageError('--family is required for `wallet account add` (evm, bitcoin or solana)')
      if (o.path !== undefined && o.index !== undefined) throw new UsageError('give --path or --index, not both')
      if (o.family !== 'bitcoin' && (o.network !== undefined || o.format !== undefined)) throw new UsageError(`--${o.network !== undefined ? 'network' : 'format'} is for bitcoin accounts only`)
      const importer = importerOf(o)
      const { client, close } = await connect({ proxy: o, importer, credentials: credentialsOf(devEnv), io })
      try {
        const account = await client.createAccount(walletId.data, {
          family: o.family,
          ...(o.keyId === undefined ? {} : { keyId: o.keyId }),
          ...(o.path === undefined ? {} : { path: o.path }),
          ...(o.index === undefined ? {} : { index: o.index }),
          ...(o.network === undefined ? {} : { network: o.network }),
          ...(o.format === undefined ? {} : { format: o.format }),
        })
        printKey(io, account, o.json)
        return 0
      } finally {
        await close()
      }
    }
    // The words of a mnemonic typed as arguments would land here: refuse them without echoing.
    if (sub !== undefined || walletArg !== undefined) {
      throw new UsageError(`\`wallet ${action as string}\` takes no argument${action === 'import' ? ' (the mnemonic comes from --mnemonic-file or standard input, never the command line)' : ''}`)
    }
    if (action === 'list') {
      const { client, close } = await connect({ proxy: o, io })
      try {
        const listing = await listWallets({ client })
        if (o.json) io.stdout(`${JSON.stringify(listing.map(walletJson))}\n`)
        else if (listing.length === 0) io.stderr('no wallets\n')
        else io.stdout(formatWallets(listing))
        return 0
      } finally {
        await close()
      }
    }
    const importer = importerOf(o)
    // Everything local is read before connecting.
    const mnemonic = action === 'import' ? await readMnemonic(o.mnemonicFile, io) : undefined
    const passphrase = o.passphraseFile === undefined ? undefined : await readPassphrase(o.passphraseFile, io)
    const { client, close } = await connect({ proxy: o, importer, credentials: credentialsOf(devEnv), io })
    try {
      const walletId = { ...(o.walletId === undefined ? {} : { walletId: o.walletId }), ...policyOf(o) }
      const wallet =
        mnemonic === undefined
          ? await client.createWallet({ ...walletId, ...(o.words === undefined ? {} : { words: o.words }) })
          : await client.importWallet({ mnemonic, ...(passphrase ? { passphrase } : {}), ...walletId })
      printWallet(io, wallet, o.json)
      return 0
    } finally {
      await close()
    }
  },
})
