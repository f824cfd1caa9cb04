import { readFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import { AutoScalingClient, type AutoScalingGroup, DescribeAutoScalingGroupsCommand } from '@aws-sdk/client-auto-scaling'
import { type GetCommandInvocationCommandOutput, GetCommandInvocationCommand, SendCommandCommand, SSMClient } from '@aws-sdk/client-ssm'
import { z } from 'zod'
import type { CliIo } from './cliIo.js'
import { CommandFailure, numberFlag, UsageError } from './cliOptions.js'
import { awsClientConfig, awsErrorText, regionSchema } from './connection.js'
import { defineCommand } from './defineCommand.js'
import { type DescribedEnclave, type EnclaveMeasurements, parseDescribeEnclaves, parseNitroCliMeasurements } from './nitroCliJson.js'

/** The shell command run on each instance through SSM. */
export const DESCRIBE_ENCLAVES_COMMAND = 'nitro-cli describe-enclaves'
/** SendCommand takes at most 50 instance ids. */
const SEND_BATCH = 50
const STILL_RUNNING = new Set(['Pending', 'InProgress', 'Delayed', 'Cancelling'])

export type ReadFleetPcr0Parameters = {
  /** Read every InService instance of this Auto Scaling group… */
  asg?: string | undefined
  /** …or these instances. */
  instanceIds?: readonly string[] | undefined
  /** Give up on instances without a result after this long. @default 120_000 */
  timeoutMs?: number
  /** Between two GetCommandInvocation rounds. @default 2_000 */
  pollIntervalMs?: number
}

export type ReadFleetPcr0Deps = {
  /** Needed with `asg`. */
  autoScaling?: Pick<AutoScalingClient, 'send'>
  ssm: Pick<SSMClient, 'send'>
  /** @default setTimeout */
  sleep?: (ms: number) => Promise<void>
  /** @default Date.now */
  now?: () => number
  /** Progress: the command was sent; one poll round left `pending` instances without a result. */
  onProgress?: (event: { type: 'sent'; commandIds: string[]; instanceIds: string[] } | { type: 'poll'; pending: number }) => void
}

export type InstancePcr0 = { instanceId: string; ok: true; enclaves: DescribedEnclave[] } | { instanceId: string; ok: false; error: string }

export type ReadFleetPcr0ReturnType = {
  instances: InstancePcr0[]
  /** Distinct PCR0 values of the running enclaves that reported. */
  pcr0s: string[]
  /** Every instance reported and all running enclaves have the same PCR0. */
  agree: boolean
}

/**
 * Read the PCR0 of the enclaves running on a fleet: the InService instances of an Auto Scaling group
 * (DescribeAutoScalingGroups) or given instances; `nitro-cli describe-enclaves` runs on each through SSM
 * Run Command (AWS-RunShellScript), and GetCommandInvocation is polled until each is done or the time
 * is up. Failures are reported per instance, not thrown.
 *
 * @throws CommandFailure when the group is unknown or has no InService instance, or SendCommand fails
 */
export async function readFleetPcr0(
  { asg, instanceIds: given, timeoutMs = 120_000, pollIntervalMs = 2_000 }: ReadFleetPcr0Parameters,
  { autoScaling, ssm, sleep = (ms) => delay(ms), now = Date.now, onProgress = () => {} }: ReadFleetPcr0Deps,
): Promise<ReadFleetPcr0ReturnType> {
  const deadline = now() + timeoutMs
  const instanceIds = asg === undefined ? [...new Set(given ?? [])] : await inServiceInstances(asg, autoScaling)
  if (instanceIds.length === 0) throw new CommandFailure('no instances to read')

  const seconds = Math.max(30, Math.ceil(timeoutMs / 1000))
  const commandOf = new Map<string, string>()
  for (let i = 0; i < instanceIds.length; i += SEND_BATCH) {
    const batch = instanceIds.slice(i, i + SEND_BATCH)
    let commandId: string | undefined
    try {
      const out = await ssm.send(
        new SendCommandCommand({
          DocumentName: 'AWS-RunShellScript',
          InstanceIds: batch,
          Parameters: { commands: [DESCRIBE_ENCLAVES_COMMAND], executionTimeout: [String(seconds)] },
          TimeoutSeconds: seconds,
          Comment: 'custody pcr0: nitro-cli describe-enclaves',
        }),
      )
      commandId = out.Command?.CommandId
    } catch (e) {
      throw new CommandFailure(`SSM SendCommand failed: ${awsErrorText(e)}`)
    }
    if (!commandId) throw new CommandFailure('SSM SendCommand returned no CommandId')
    for (const id of batch) commandOf.set(id, commandId)
  }
  onProgress({ type: 'sent', commandIds: [...new Set(commandOf.values())], instanceIds })

  const results = new Map<string, InstancePcr0>()
  const lastStatus = new Map<string, string>()
  for (;;) {
    const pending = instanceIds.filter((id) => !results.has(id))
    await Promise.all(
      pending.map(async (instanceId) => {
        let out: GetCommandInvocationCommandOutput
        try {
          out = await ssm.send(new GetCommandInvocationCommand({ CommandId: commandOf.get(instanceId)!, InstanceId: instanceId }))
        } catch (e) {
          // Right after SendCommand the invocation may not exist yet; throttling is worth another round.
          const name = (e as { name?: string }).name ?? ''
          if (name === 'InvocationDoesNotExist' || name === 'ThrottlingException') {
            lastStatus.set(instanceId, name === 'InvocationDoesNotExist' ? 'not yet delivered' : 'throttled')
            return
          }
          results.set(instanceId, { instanceId, ok: false, error: `GetCommandInvocation failed: ${awsErrorText(e)}` })
          return
        }
        const status = out.Status ?? 'unknown'
        lastStatus.set(instanceId, status)
        if (STILL_RUNNING.has(status)) return
        results.set(instanceId, invocationResult(instanceId, out))
      }),
    )
    const left = instanceIds.filter((id) => !results.has(id))
    if (left.length === 0) break
    onProgress({ type: 'poll', pending: left.length })
    if (now() >= deadline) {
      for (const id of left) {
        results.set(id, { instanceId: id, ok: false, error: `no result within ${Math.round(timeoutMs / 1000)} s (last status: ${lastStatus.get(id) ?? 'not yet delivered'})` })
      }
      break
    }
    await sleep(Math.min(pollIntervalMs, Math.max(0, deadline - now())))
  }

  const instances = instanceIds.map((id) => results.get(id)!)
  const pcr0s = [...new Set(instances.flatMap((r) => (r.ok ? r.enclaves.filter((e) => e.state === 'RUNNING').map((e) => e.measurements.pcr0) : [])))]
  return { instances, pcr0s, agree: instances.every((r) => r.ok) && pcr0s.length === 1 }
}

async function inServiceInstances(asg: string, autoScaling: ReadFleetPcr0Deps['autoScaling']): Promise<string[]> {
  if (!autoScaling) throw new TypeError('readFleetPcr0: an AutoScaling client is required with asg')
  let groups: AutoScalingGroup[]
  try {
    groups = (await autoScaling.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [asg] }))).AutoScalingGroups ?? []
  } catch (e) {
    throw new CommandFailure(`DescribeAutoScalingGroups failed: ${awsErrorText(e)}`)
  }
  const group = groups.find((g) => g.AutoScalingGroupName === asg) ?? groups[0]
  if (!group) throw new CommandFailure(`Auto Scaling group ${asg} not found`)
  const instances = group.Instances ?? []
  const inService = instances.filter((i) => i.LifecycleState === 'InService' && i.InstanceId).map((i) => i.InstanceId!)
  if (inService.length === 0) {
    const counts = new Map<string, number>()
    for (const i of instances) counts.set(i.LifecycleState ?? 'unknown', (counts.get(i.LifecycleState ?? 'unknown') ?? 0) + 1)
    const states = [...counts].map(([state, n]) => `${n} ${state}`)
    throw new CommandFailure(`Auto Scaling group ${asg} has no InService instances${states.length ? ` (${states.join(', ')})` : ''}`)
  }
  return inService
}

function invocationResult(instanceId: string, out: GetCommandInvocationCommandOutput): InstancePcr0 {
  if (out.Status !== 'Success') {
    const detail = firstLine(out.StandardErrorContent) || firstLine(out.StandardOutputContent)
    const status = out.StatusDetails && out.StatusDetails !== out.Status ? `${out.Status} (${out.StatusDetails})` : out.Status
    return { instanceId, ok: false, error: `SSM command ${status}${out.ResponseCode !== undefined && out.ResponseCode >= 0 ? `, exit code ${out.ResponseCode}` : ''}${detail ? `: ${detail}` : ''}` }
  }
  let enclaves: DescribedEnclave[]
  try {
    enclaves = parseDescribeEnclaves(out.StandardOutputContent ?? '')
  } catch (e) {
    return { instanceId, ok: false, error: (e as Error).message }
  }
  const running = enclaves.filter((e) => e.state === 'RUNNING')
  if (running.length === 0) {
    return { instanceId, ok: false, error: enclaves.length === 0 ? 'no enclave is running' : `no enclave is running (${enclaves.map((e) => e.state).join(', ')})` }
  }
  return { instanceId, ok: true, enclaves: running }
}

const firstLine = (text: string | undefined) => (text ?? '').trim().split('\n')[0]!.slice(0, 200)

const measurementRows = (m: EnclaveMeasurements) =>
  [
    ['PCR0', m.pcr0],
    ['PCR1', m.pcr1],
    ['PCR2', m.pcr2],
    ['PCR8', m.pcr8],
  ].filter((r): r is [string, string] => r[1] !== undefined)

/** Print the PCRs of nitro-cli JSON (build-enclave, describe-eif or describe-enclaves output). */
export async function printPcrsFromJson(path: string, { io, json }: { io: CliIo; json: boolean }): Promise<number> {
  let text: string
  try {
    text = path === '-' ? await io.readStdin() : await readFile(resolve(io.cwd, path), 'utf8')
  } catch (e) {
    throw new UsageError(`--from-json: cannot read ${path} (${(e as NodeJS.ErrnoException).code ?? 'error'})`)
  }
  let images: ReturnType<typeof parseNitroCliMeasurements>
  try {
    images = parseNitroCliMeasurements(text)
  } catch (e) {
    throw new CommandFailure(`${path}: ${(e as Error).message}`)
  }
  if (json) {
    io.stdout(`${JSON.stringify(images.length === 1 && !images[0]!.label ? images[0]!.measurements : images)}\n`)
    return 0
  }
  for (const { label, measurements } of images) {
    if (label) io.stdout(`${label}\n`)
    for (const [k, v] of measurementRows(measurements)) io.stdout(`${label ? '  ' : ''}${k}  ${v}\n`)
  }
  return 0
}

/** Print a fleet's PCR0 per instance and whether they agree; exit 1 when not. */
export async function printFleetPcr0(params: ReadFleetPcr0Parameters & { json: boolean }, deps: Omit<ReadFleetPcr0Deps, 'onProgress'> & { io: CliIo }): Promise<number> {
  const { io } = deps
  let dots = false
  const result = await readFleetPcr0(params, {
    ...deps,
    onProgress(event) {
      if (event.type === 'sent') {
        io.stderr(`waiting for nitro-cli on ${event.instanceIds.length} instance${event.instanceIds.length === 1 ? '' : 's'} (SSM ${event.commandIds.join(', ')}) `)
        dots = true
      } else io.stderr('.')
    },
  })
  if (dots) io.stderr('\n')
  if (params.json) io.stdout(`${JSON.stringify(result)}\n`)
  else {
    const width = Math.max(...result.instances.map((r) => r.instanceId.length))
    for (const r of result.instances) {
      if (!r.ok) io.stdout(`${r.instanceId.padEnd(width)}  error: ${r.error}\n`)
      else for (const e of r.enclaves) io.stdout(`${r.instanceId.padEnd(width)}  ${e.measurements.pcr0}${r.enclaves.length > 1 ? `  (${e.enclaveId})` : ''}\n`)
    }
  }
  for (const r of result.instances) {
    if (r.ok && r.enclaves.some((e) => e.debug)) io.stderr(`warning: ${r.instanceId} runs an enclave in debug mode; its attestation PCRs are zeros, so KMS refuses it\n`)
  }
  const failed = result.instances.filter((r) => !r.ok).length
  if (failed > 0) throw new CommandFailure(`${failed} of ${result.instances.length} instances did not report PCR0`)
  if (!result.agree) throw new CommandFailure(`instances disagree: ${result.pcr0s.length} different PCR0 values`)
  if (!params.json) io.stdout(`all ${result.instances.length} instance${result.instances.length === 1 ? '' : 's'} agree on PCR0 ${result.pcr0s[0]}\n`)
  return 0
}

export const pcr0Command = defineCommand({
  name: 'pcr0',
  summary: 'PCR0 of running enclaves (SSM) or of nitro-cli JSON',
  usage: 'custody pcr0 --asg <name> | --instance <id>… | --from-json <file> [--region <region>] [--timeout <s>] [--json]',
  description:
    'With --asg or --instance: runs `nitro-cli describe-enclaves` on each InService instance through SSM Run\nCommand, prints PCR0 per instance and whether all agree (exit 1 when not). With --from-json: prints\nPCR0/1/2 of `nitro-cli build-enclave` or `describe-eif` output. AWS credentials: the default chain.',
  options: {
    asg: { flag: 'asg', value: 'name', help: 'Auto Scaling group of the enclave instances', schema: z.string().min(1).max(255).optional() },
    instance: {
      flag: 'instance',
      value: 'id',
      help: 'EC2 instance id',
      multiple: true,
      schema: z.array(z.string().regex(/^i-[0-9a-f]{8,17}$/, 'must be an EC2 instance id such as i-0123456789abcdef0')).optional(),
    },
    fromJson: { flag: 'from-json', value: 'file', help: 'nitro-cli JSON output to read ("-" = stdin)', schema: z.string().min(1).optional() },
    region: { flag: 'region', value: 'region', help: 'AWS region (default: AWS_REGION or the profile)', schema: regionSchema.optional() },
    timeout: {
      flag: 'timeout',
      value: 's',
      help: 'seconds to wait for SSM (default 120)',
      schema: numberFlag({ min: 1, max: 99_999 }).default(120),
    },
    json: { flag: 'json', boolean: true, help: 'print JSON', schema: z.boolean().default(false) },
  },
  async run({ options: o, io }) {
    const sources = [o.asg, o.instance, o.fromJson].filter((v) => v !== undefined).length
    if (sources !== 1) throw new UsageError('give exactly one of --asg, --instance or --from-json')
    if (o.fromJson !== undefined) return printPcrsFromJson(o.fromJson, { io, json: o.json })
    const config = awsClientConfig({ region: o.region })
    const ssm = new SSMClient(config)
    const autoScaling = new AutoScalingClient(config)
    try {
      return await printFleetPcr0({ asg: o.asg, instanceIds: o.instance, timeoutMs: o.timeout * 1000, json: o.json }, { io, ssm, autoScaling })
    } finally {
      ssm.destroy()
      autoScaling.destroy()
    }
  },
})
