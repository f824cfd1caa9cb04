import { existsSync } from 'node:fs'
import { AttestationError, InvalidArgumentError } from '@enclave-custody/sdk'
import type { AttestationProvider } from '../../keys/types.js'
import type { Logger } from '@enclave-custody/sdk/server'
import { type CreateSoftwareNsmParameters, createSoftwareNsm } from '../softwareNsm.js'
import { createNsmAttestationProvider } from './createNsmAttestationProvider.js'
import { NSM_DEVICE_PATH } from './nsmConstants.js'

/** Options of {@link selectAttestationProvider}. */
export type SelectAttestationProviderParameters = {
  /** `production` refuses the software NSM unless `allowSoftwareAttestation`; `development` allows it. */
  mode: 'production' | 'development'
  /**
   * Which provider: `nsm` requires the device, `software` asks for the software NSM (still subject to
   * `mode`), `auto` takes the NSM when the device exists and otherwise falls back to the software NSM
   * where allowed. @default 'auto'
   */
  attestation?: 'auto' | 'nsm' | 'software'
  /**
   * Allow the software NSM in production mode. Its documents prove nothing about isolation: only for a
   * staging stack whose KMS key trusts the local CA. @default false
   */
  allowSoftwareAttestation?: boolean
  /** Options of the software NSM, when it is chosen. */
  softwareNsm?: CreateSoftwareNsmParameters
  /** The NSM device. @default '/dev/nsm' */
  devicePath?: string
  /** Told which provider was chosen and why (a warning when the software NSM is used in production). */
  logger?: Logger
}

/** What {@link selectAttestationProvider} resolves to: the NSM provider or the software NSM. */
export type SelectAttestationProviderReturnType = AttestationProvider

/**
 * Choose the attestation provider for this process: the Nitro Secure Module when its device exists, the
 * software NSM only in development mode or when explicitly allowed; otherwise fail with a message that
 * says which of the two to fix.
 *
 * @param parameters - Mode, requested provider and the software NSM's options.
 * @returns The provider (the NSM device already open).
 * @throws AttestationError when the NSM is required but absent, or when only the software NSM is
 *   available and it is refused.
 * @throws InvalidArgumentError on an unknown `mode` or `attestation`.
 * @example
 * import { selectAttestationProvider } from '@enclave-custody/enclave-runtime'
 * const attestation = await selectAttestationProvider({ mode: 'production' }) // /dev/nsm, or a clear error
 */
export async function selectAttestationProvider(parameters: SelectAttestationProviderParameters): Promise<SelectAttestationProviderReturnType> {
  if (typeof parameters !== 'object' || parameters === null) throw new InvalidArgumentError({ field: 'parameters', rule: 'must be an object' })
  const { mode, attestation = 'auto', allowSoftwareAttestation = false, softwareNsm, devicePath = NSM_DEVICE_PATH, logger } = parameters
  if (mode !== 'production' && mode !== 'development') throw new InvalidArgumentError({ field: 'mode', rule: 'must be "production" or "development"' })
  if (attestation !== 'auto' && attestation !== 'nsm' && attestation !== 'software') {
    throw new InvalidArgumentError({ field: 'attestation', rule: 'must be "auto", "nsm" or "software"' })
  }
  if (typeof allowSoftwareAttestation !== 'boolean') throw new InvalidArgumentError({ field: 'allowSoftwareAttestation', rule: 'must be a boolean' })
  if (typeof devicePath !== 'string' || !devicePath.startsWith('/')) throw new InvalidArgumentError({ field: 'devicePath', rule: 'must be an absolute path' })

  const deviceExists = existsSync(devicePath)
  if (attestation === 'nsm' || (attestation === 'auto' && deviceExists)) {
    if (!deviceExists) {
      throw new AttestationError({ reason: `the NSM device ${devicePath} does not exist: this process is not running inside a Nitro Enclave` })
    }
    logger?.info({ attestation: 'nsm', devicePath }, 'attestation by the Nitro Secure Module')
    return createNsmAttestationProvider({ devicePath })
  }

  const softwareAllowed = mode === 'development' || allowSoftwareAttestation
  if (!softwareAllowed) {
    const why = attestation === 'software' ? 'the software NSM was requested' : `there is no NSM device at ${devicePath} (not inside a Nitro Enclave)`
    throw new AttestationError({
      reason: `${why}, and the software NSM is refused in production mode: run inside a Nitro Enclave, or use development mode (allowSoftwareAttestation only for a staging stack)`,
    })
  }
  if (mode === 'production') logger?.warn({ attestation: 'software' }, 'software attestation in production mode: its documents prove nothing about isolation')
  else logger?.info({ attestation: 'software' }, 'attestation by the software NSM (development)')
  return createSoftwareNsm(softwareNsm)
}
