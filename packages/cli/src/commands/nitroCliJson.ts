import { z } from 'zod'

const pcr = z
  .string()
  .regex(/^[0-9a-fA-F]{96}$/, 'must be 96 hex digits (SHA-384)')
  .transform((v) => v.toLowerCase())

/** nitro-cli's `Measurements`: PCR0/1/2 always, PCR8 for signed images. */
const MeasurementsSchema = z.looseObject({ HashAlgorithm: z.string().optional(), PCR0: pcr, PCR1: pcr.optional(), PCR2: pcr.optional(), PCR8: pcr.optional() })

/** SHA-384 measurements of an enclave image, lower-case hex. */
export type EnclaveMeasurements = { pcr0: string; pcr1?: string; pcr2?: string; pcr8?: string }

/** One element of `nitro-cli describe-enclaves`. */
export type DescribedEnclave = { enclaveId: string; enclaveName?: string; state: string; debug: boolean; measurements: EnclaveMeasurements }

const toMeasurements = (m: z.output<typeof MeasurementsSchema>): EnclaveMeasurements => ({
  pcr0: m.PCR0,
  ...(m.PCR1 ? { pcr1: m.PCR1 } : {}),
  ...(m.PCR2 ? { pcr2: m.PCR2 } : {}),
  ...(m.PCR8 ? { pcr8: m.PCR8 } : {}),
})

const DescribeEnclavesSchema = z.array(
  z.looseObject({
    EnclaveName: z.string().optional(),
    EnclaveID: z.string(),
    State: z.string(),
    Flags: z.string().optional(),
    Measurements: MeasurementsSchema.optional(),
  }),
)

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    throw new Error(`${what} is not JSON`)
  }
}

const issue = (e: z.ZodError) => {
  const first = e.issues[0]
  return first ? `${first.path.join('.') || 'value'} ${first.message}` : 'unexpected shape'
}

/**
 * Parse the output of `nitro-cli describe-enclaves` (recent nitro-cli prints each enclave's
 * `Measurements`). Debug-mode enclaves are flagged: their attestation documents carry all-zero PCRs.
 * @throws Error when the text is not that JSON or an enclave lacks measurements
 */
export function parseDescribeEnclaves(text: string): DescribedEnclave[] {
  const parsed = DescribeEnclavesSchema.safeParse(parseJson(text, 'nitro-cli describe-enclaves output'))
  if (!parsed.success) throw new Error(`unexpected nitro-cli describe-enclaves output: ${issue(parsed.error)}`)
  return parsed.data.map((e) => {
    if (!e.Measurements) throw new Error(`nitro-cli describe-enclaves printed no Measurements for ${e.EnclaveID} (upgrade nitro-cli)`)
    return {
      enclaveId: e.EnclaveID,
      ...(e.EnclaveName ? { enclaveName: e.EnclaveName } : {}),
      state: e.State.toUpperCase(),
      debug: /debug/i.test(e.Flags ?? ''),
      measurements: toMeasurements(e.Measurements),
    }
  })
}

/**
 * Measurements from nitro-cli JSON: `build-enclave` or `describe-eif` output (`{ "Measurements": … }`),
 * or `describe-enclaves` output (one entry per enclave).
 * @throws Error when no measurements are found
 */
export function parseNitroCliMeasurements(text: string): { label?: string; measurements: EnclaveMeasurements }[] {
  const value = parseJson(text, 'the file')
  if (Array.isArray(value)) {
    const enclaves = parseDescribeEnclaves(text)
    if (enclaves.length === 0) throw new Error('the describe-enclaves output lists no enclave')
    return enclaves.map((e) => ({ label: e.enclaveName ?? e.enclaveId, measurements: e.measurements }))
  }
  const parsed = z.looseObject({ Measurements: MeasurementsSchema }).safeParse(value)
  if (!parsed.success) throw new Error(`no nitro-cli Measurements found: ${issue(parsed.error)}`)
  return [{ measurements: toMeasurements(parsed.data.Measurements) }]
}
