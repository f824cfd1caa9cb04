import { randomBytes } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { AutoScalingClient, DescribeAutoScalingGroupsCommand } from '@aws-sdk/client-auto-scaling'
import { GetCommandInvocationCommand, InvocationDoesNotExist, SendCommandCommand, SSMClient } from '@aws-sdk/client-ssm'
import { mockClient } from 'aws-sdk-client-mock'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { printFleetPcr0, readFleetPcr0 } from '../src/commands/pcr0.js'
import { runCli } from '../src/commands/runCli.js'
import { captureIo } from './helpers.js'

// SSM cannot run here: these are the only AWS mocks of the project (issue 5). Everything else runs
// against local-aws.
const ssmMock = mockClient(SSMClient)
const asgMock = mockClient(AutoScalingClient)
afterEach(() => {
  ssmMock.reset()
  asgMock.reset()
})

const sha384 = () => randomBytes(48).toString('hex')
const PCR = { 0: sha384(), 1: sha384(), 2: sha384() }
const OTHER_PCR0 = sha384()

/** What `nitro-cli describe-enclaves` prints on a parent instance with one production enclave. */
function describeEnclavesOutput(instanceId: string, { pcr0 = PCR[0], flags = 'NONE', state = 'RUNNING' } = {}): string {
  return `${JSON.stringify(
    [
      {
        EnclaveName: 'custody',
        EnclaveID: `${instanceId}-enc${randomBytes(8).toString('hex')}`,
        ProcessID: 4127,
        EnclaveCID: 16,
        NumberOfCPUs: 2,
        CPUIDs: [1, 3],
        MemoryMiB: 2048,
        State: state,
        Flags: flags,
        Measurements: { HashAlgorithm: 'Sha384 { ... }', PCR0: pcr0, PCR1: PCR[1], PCR2: PCR[2] },
      },
    ],
    null,
    2,
  )}\n`
}

const success = (instanceId: string, options?: Parameters<typeof describeEnclavesOutput>[1]) => ({
  CommandId: 'cmd-1',
  InstanceId: instanceId,
  DocumentName: 'AWS-RunShellScript',
  PluginName: 'aws:runShellScript',
  Status: 'Success' as const,
  StatusDetails: 'Success',
  ResponseCode: 0,
  StandardOutputContent: describeEnclavesOutput(instanceId, options),
  StandardErrorContent: '',
})

const notYet = () => new InvocationDoesNotExist({ $metadata: {}, message: '' })

function givenGroup(instances: { InstanceId: string; LifecycleState: string }[]) {
  asgMock.on(DescribeAutoScalingGroupsCommand, { AutoScalingGroupNames: ['custody-asg'] }).resolves({
    AutoScalingGroups: [
      {
        AutoScalingGroupName: 'custody-asg',
        MinSize: 1,
        MaxSize: 4,
        DesiredCapacity: instances.length,
        DefaultCooldown: 300,
        AvailabilityZones: ['us-east-1a', 'us-east-1b'],
        HealthCheckType: 'EC2',
        CreatedTime: new Date('2026-01-01T00:00:00Z'),
        Instances: instances.map((i) => ({ ...i, AvailabilityZone: 'us-east-1a', HealthStatus: 'Healthy', ProtectedFromScaleIn: false }) as never),
      },
    ],
  })
  ssmMock.on(SendCommandCommand).resolves({ Command: { CommandId: 'cmd-1', DocumentName: 'AWS-RunShellScript', Status: 'Pending' } })
}

/** A clock that only moves when the command sleeps, so timeouts take no real time. */
function fakeClock() {
  let t = 1_000_000
  return {
    now: () => t,
    sleep: async (ms: number) => {
      t += ms
    },
  }
}

async function fleet(params: Parameters<typeof printFleetPcr0>[0]) {
  const io = captureIo()
  const clock = fakeClock()
  let code: number
  try {
    code = await printFleetPcr0(params, { io, ssm: new SSMClient({ region: 'us-east-1' }), autoScaling: new AutoScalingClient({ region: 'us-east-1' }), ...clock })
  } catch (e) {
    io.stderr(`custody pcr0: ${(e as Error).message}\n`)
    code = 1
  }
  return { code, out: io.out(), err: io.err() }
}

describe('custody pcr0 --asg / --instance (SSM Run Command, stubbed)', () => {
  it('reads PCR0 from two InService instances and reports that they agree', async () => {
    givenGroup([
      { InstanceId: 'i-0aaaaaaaaaaaaaaa1', LifecycleState: 'InService' },
      { InstanceId: 'i-0bbbbbbbbbbbbbbb2', LifecycleState: 'InService' },
      { InstanceId: 'i-0ccccccccccccccc3', LifecycleState: 'Terminating' },
    ])
    ssmMock.on(GetCommandInvocationCommand, { InstanceId: 'i-0aaaaaaaaaaaaaaa1' }).resolves(success('i-0aaaaaaaaaaaaaaa1'))
    ssmMock.on(GetCommandInvocationCommand, { InstanceId: 'i-0bbbbbbbbbbbbbbb2' }).resolves(success('i-0bbbbbbbbbbbbbbb2'))

    const { code, out, err } = await fleet({ asg: 'custody-asg', json: false })
    expect(code).toBe(0)
    expect(out).toBe(`i-0aaaaaaaaaaaaaaa1  ${PCR[0]}\ni-0bbbbbbbbbbbbbbb2  ${PCR[0]}\nall 2 instances agree on PCR0 ${PCR[0]}\n`)
    expect(err).toBe('waiting for nitro-cli on 2 instances (SSM cmd-1) \n')

    // Only InService instances get the command, as a shell script run by the SSM agent.
    const sent = ssmMock.commandCalls(SendCommandCommand)
    expect(sent).toHaveLength(1)
    expect(sent[0]!.args[0].input).toMatchObject({
      DocumentName: 'AWS-RunShellScript',
      InstanceIds: ['i-0aaaaaaaaaaaaaaa1', 'i-0bbbbbbbbbbbbbbb2'],
      Parameters: { commands: ['nitro-cli describe-enclaves'] },
    })
    expect(ssmMock.commandCalls(GetCommandInvocationCommand).map((c) => c.args[0].input)).toEqual([
      { CommandId: 'cmd-1', InstanceId: 'i-0aaaaaaaaaaaaaaa1' },
      { CommandId: 'cmd-1', InstanceId: 'i-0bbbbbbbbbbbbbbb2' },
    ])
  })

  it('retries InvocationDoesNotExist right after SendCommand, then InProgress, until Success (progress dots on stderr)', async () => {
    ssmMock.on(SendCommandCommand).resolves({ Command: { CommandId: 'cmd-1' } })
    ssmMock
      .on(GetCommandInvocationCommand)
      .rejectsOnce(notYet())
      .resolvesOnce({ Status: 'Pending' })
      .resolvesOnce({ Status: 'InProgress' })
      .resolvesOnce({ Status: 'Delayed' })
      .resolves(success('i-0aaaaaaaaaaaaaaa1'))
    const { code, out, err } = await fleet({ instanceIds: ['i-0aaaaaaaaaaaaaaa1'], json: false })
    expect(code).toBe(0)
    expect(out).toBe(`i-0aaaaaaaaaaaaaaa1  ${PCR[0]}\nall 1 instance agree on PCR0 ${PCR[0]}\n`)
    expect(err).toBe('waiting for nitro-cli on 1 instance (SSM cmd-1) ....\n')
    expect(ssmMock.commandCalls(GetCommandInvocationCommand)).toHaveLength(5)
    expect(asgMock.calls()).toHaveLength(0)
  })

  it('reports an instance whose command Failed, and exits 1', async () => {
    givenGroup([
      { InstanceId: 'i-0aaaaaaaaaaaaaaa1', LifecycleState: 'InService' },
      { InstanceId: 'i-0bbbbbbbbbbbbbbb2', LifecycleState: 'InService' },
    ])
    ssmMock.on(GetCommandInvocationCommand, { InstanceId: 'i-0aaaaaaaaaaaaaaa1' }).resolves(success('i-0aaaaaaaaaaaaaaa1'))
    ssmMock.on(GetCommandInvocationCommand, { InstanceId: 'i-0bbbbbbbbbbbbbbb2' }).resolves({
      Status: 'Failed',
      StatusDetails: 'Failed',
      ResponseCode: 127,
      StandardOutputContent: '',
      StandardErrorContent: '/var/lib/amazon/ssm/i-0bbbbbbbbbbbbbbb2/document/orchestration/cmd-1/awsrunShellScript/0.awsrunShellScript/_script.sh: line 1: nitro-cli: command not found\nfailed to run commands: exit status 127',
    })
    const { code, out, err } = await fleet({ asg: 'custody-asg', json: false })
    expect(code).toBe(1)
    expect(out).toContain(`i-0aaaaaaaaaaaaaaa1  ${PCR[0]}\n`)
    expect(out).toMatch(/^i-0bbbbbbbbbbbbbbb2 {2}error: SSM command Failed, exit code 127: .*nitro-cli: command not found$/m)
    expect(err).toContain('custody pcr0: 1 of 2 instances did not report PCR0\n')
  })

  it.each(['Cancelled', 'TimedOut'] as const)('reports a %s invocation', async (status) => {
    ssmMock.on(SendCommandCommand).resolves({ Command: { CommandId: 'cmd-1' } })
    ssmMock.on(GetCommandInvocationCommand).resolves({ Status: status, StatusDetails: status === 'TimedOut' ? 'DeliveryTimedOut' : status, ResponseCode: -1 })
    const { code, out } = await fleet({ instanceIds: ['i-0aaaaaaaaaaaaaaa1'], json: false })
    expect(code).toBe(1)
    expect(out).toBe(`i-0aaaaaaaaaaaaaaa1  error: SSM command ${status === 'TimedOut' ? 'TimedOut (DeliveryTimedOut)' : 'Cancelled'}\n`)
  })

  it('reports mismatching PCR0s and exits 1', async () => {
    ssmMock.on(SendCommandCommand).resolves({ Command: { CommandId: 'cmd-1' } })
    ssmMock.on(GetCommandInvocationCommand, { InstanceId: 'i-0aaaaaaaaaaaaaaa1' }).resolves(success('i-0aaaaaaaaaaaaaaa1'))
    ssmMock.on(GetCommandInvocationCommand, { InstanceId: 'i-0bbbbbbbbbbbbbbb2' }).resolves(success('i-0bbbbbbbbbbbbbbb2', { pcr0: OTHER_PCR0 }))
    const { code, out, err } = await fleet({ instanceIds: ['i-0aaaaaaaaaaaaaaa1', 'i-0bbbbbbbbbbbbbbb2'], json: false })
    expect(code).toBe(1)
    expect(out).toBe(`i-0aaaaaaaaaaaaaaa1  ${PCR[0]}\ni-0bbbbbbbbbbbbbbb2  ${OTHER_PCR0}\n`)
    expect(err).toContain('custody pcr0: instances disagree: 2 different PCR0 values\n')
  })

  it('gives up at the timeout, naming the last status, without real waiting', async () => {
    ssmMock.on(SendCommandCommand).resolves({ Command: { CommandId: 'cmd-1' } })
    ssmMock.on(GetCommandInvocationCommand, { InstanceId: 'i-0aaaaaaaaaaaaaaa1' }).resolves(success('i-0aaaaaaaaaaaaaaa1'))
    ssmMock.on(GetCommandInvocationCommand, { InstanceId: 'i-0bbbbbbbbbbbbbbb2' }).resolves({ Status: 'InProgress' })
    ssmMock.on(GetCommandInvocationCommand, { InstanceId: 'i-0ccccccccccccccc3' }).rejects(notYet())
    const started = Date.now()
    const { code, out, err } = await fleet({ instanceIds: ['i-0aaaaaaaaaaaaaaa1', 'i-0bbbbbbbbbbbbbbb2', 'i-0ccccccccccccccc3'], timeoutMs: 10_000, pollIntervalMs: 1_000, json: false })
    expect(Date.now() - started).toBeLessThan(2_000)
    expect(code).toBe(1)
    expect(out).toBe(
      `i-0aaaaaaaaaaaaaaa1  ${PCR[0]}\ni-0bbbbbbbbbbbbbbb2  error: no result within 10 s (last status: InProgress)\ni-0ccccccccccccccc3  error: no result within 10 s (last status: not yet delivered)\n`,
    )
    expect(err).toMatch(/\(SSM cmd-1\) \.{11}\n/) // one dot per round: 10 s / 1 s, plus the last
    expect(err).toContain('custody pcr0: 2 of 3 instances did not report PCR0\n')
  })

  it('fails when the group has no InService instances, without sending anything', async () => {
    givenGroup([
      { InstanceId: 'i-0aaaaaaaaaaaaaaa1', LifecycleState: 'Pending' },
      { InstanceId: 'i-0bbbbbbbbbbbbbbb2', LifecycleState: 'Pending' },
      { InstanceId: 'i-0ccccccccccccccc3', LifecycleState: 'Terminating' },
    ])
    const { code, out, err } = await fleet({ asg: 'custody-asg', json: false })
    expect(code).toBe(1)
    expect(out).toBe('')
    expect(err).toBe('custody pcr0: Auto Scaling group custody-asg has no InService instances (2 Pending, 1 Terminating)\n')
    expect(ssmMock.calls()).toHaveLength(0)
  })

  it('fails for an unknown group', async () => {
    asgMock.on(DescribeAutoScalingGroupsCommand).resolves({ AutoScalingGroups: [] })
    const { code, err } = await fleet({ asg: 'nope', json: false })
    expect(code).toBe(1)
    expect(err).toBe('custody pcr0: Auto Scaling group nope not found\n')
  })

  it('flags debug-mode enclaves and instances without a running enclave', async () => {
    ssmMock.on(SendCommandCommand).resolves({ Command: { CommandId: 'cmd-1' } })
    ssmMock.on(GetCommandInvocationCommand, { InstanceId: 'i-0aaaaaaaaaaaaaaa1' }).resolves(success('i-0aaaaaaaaaaaaaaa1', { flags: 'DEBUG_MODE' }))
    ssmMock.on(GetCommandInvocationCommand, { InstanceId: 'i-0bbbbbbbbbbbbbbb2' }).resolves({ ...success('i-0bbbbbbbbbbbbbbb2'), StandardOutputContent: '[]\n' })
    const { code, out, err } = await fleet({ instanceIds: ['i-0aaaaaaaaaaaaaaa1', 'i-0bbbbbbbbbbbbbbb2'], json: false })
    expect(code).toBe(1)
    expect(out).toContain('i-0bbbbbbbbbbbbbbb2  error: no enclave is running\n')
    expect(err).toContain('warning: i-0aaaaaaaaaaaaaaa1 runs an enclave in debug mode')
  })

  it('returns structured results (readFleetPcr0) and batches SendCommand by 50', async () => {
    const ids = Array.from({ length: 51 }, (_, i) => `i-0${String(i).padStart(16, '0')}`)
    ssmMock.on(SendCommandCommand).callsFake((input: { InstanceIds: string[] }) => ({ Command: { CommandId: `cmd-${input.InstanceIds.length}` } }))
    ssmMock.on(GetCommandInvocationCommand).callsFake((input: { InstanceId: string }) => success(input.InstanceId))
    const result = await readFleetPcr0({ instanceIds: ids }, { ssm: new SSMClient({ region: 'us-east-1' }), ...fakeClock() })
    expect(result.agree).toBe(true)
    expect(result.pcr0s).toEqual([PCR[0]])
    expect(result.instances).toHaveLength(51)
    expect(ssmMock.commandCalls(SendCommandCommand).map((c) => c.args[0].input.InstanceIds!.length)).toEqual([50, 1])
    expect(new Set(ssmMock.commandCalls(GetCommandInvocationCommand).map((c) => c.args[0].input.CommandId))).toEqual(new Set(['cmd-50', 'cmd-1']))
  })

  it('runs through `custody pcr0 --instance … --json` with the SDK clients it builds', async () => {
    ssmMock.on(SendCommandCommand).resolves({ Command: { CommandId: 'cmd-1' } })
    ssmMock.on(GetCommandInvocationCommand).resolves(success('i-0aaaaaaaaaaaaaaa1'))
    const io = captureIo({ env: {} })
    const code = await runCli(['pcr0', '--instance', 'i-0aaaaaaaaaaaaaaa1', '--region', 'eu-west-1', '--json'], io)
    expect(io.err()).toBe('waiting for nitro-cli on 1 instance (SSM cmd-1) \n')
    expect(code).toBe(0)
    const json = JSON.parse(io.out())
    expect(json).toMatchObject({ agree: true, pcr0s: [PCR[0]], instances: [{ instanceId: 'i-0aaaaaaaaaaaaaaa1', ok: true }] })
    expect(json.instances[0].enclaves[0].measurements).toEqual({ pcr0: PCR[0], pcr1: PCR[1], pcr2: PCR[2] })
  })

  it('names the AWS error when SendCommand is refused', async () => {
    ssmMock.on(SendCommandCommand).rejects(Object.assign(new Error('Instances [[i-0aaaaaaaaaaaaaaa1]] not in a valid state for account 111122223333'), { name: 'InvalidInstanceId' }))
    const { code, err } = await fleet({ instanceIds: ['i-0aaaaaaaaaaaaaaa1'], json: false })
    expect(code).toBe(1)
    expect(err).toBe('custody pcr0: SSM SendCommand failed: InvalidInstanceId: Instances [[i-0aaaaaaaaaaaaaaa1]] not in a valid state for account 111122223333\n')
  })
})

describe('custody pcr0 --from-json', () => {
  let dir: string
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'custody-pcr0-'))
  })
  afterAll(() => rm(dir, { recursive: true, force: true }))

  // The shape `nitro-cli build-enclave --docker-uri custody-enclave:latest --output-file custody.eif` prints.
  const buildOutput = () => `Start building the Enclave Image...
Using the locally available Docker image...
Enclave Image successfully created.
`
  const buildJson = () =>
    `${JSON.stringify({ Measurements: { HashAlgorithm: 'Sha384 { ... }', PCR0: PCR[0].toUpperCase(), PCR1: PCR[1], PCR2: PCR[2] } }, null, 2)}\n`

  it('prints PCR0/1/2 of nitro-cli build-enclave output (lower-case)', async () => {
    const file = join(dir, 'build.json')
    await writeFile(file, buildJson())
    const io = captureIo()
    expect(await runCli(['pcr0', '--from-json', file], io)).toBe(0)
    expect(io.out()).toBe(`PCR0  ${PCR[0]}\nPCR1  ${PCR[1]}\nPCR2  ${PCR[2]}\n`)
    expect(io.err()).toBe('')
    const json = captureIo()
    expect(await runCli(['pcr0', '--from-json', file, '--json'], json)).toBe(0)
    expect(JSON.parse(json.out())).toEqual({ pcr0: PCR[0], pcr1: PCR[1], pcr2: PCR[2] })
  })

  it('reads describe-eif output (with PCR8 of a signed image) from stdin', async () => {
    const pcr8 = sha384()
    const describeEif = {
      EifVersion: 4,
      Measurements: { HashAlgorithm: 'Sha384 { ... }', PCR0: PCR[0], PCR1: PCR[1], PCR2: PCR[2], PCR8: pcr8 },
      IsSigned: true,
      SigningCertificate: { IssuerName: { commonName: 'custody-signing' }, Algorithm: 'ecdsa-with-SHA384', NotBefore: 'Jan 1 00:00:00 2026 +00:00', NotAfter: 'Jan 1 00:00:00 2027 +00:00', Signature: 'ab:cd' },
      CheckCRC: true,
      CheckSignature: true,
      ImageName: 'custody-enclave',
      ImageVersion: '0.1.0',
      Metadata: { BuildTime: '2026-06-01T12:00:00.000000000+00:00', BuildTool: 'nitro-cli', BuildToolVersion: 'v1.4.2', OperatingSystem: 'Linux', KernelVersion: '6.1' },
    }
    const io = captureIo({ stdinIsTTY: false, readStdin: async () => JSON.stringify(describeEif, null, 2) })
    expect(await runCli(['pcr0', '--from-json', '-'], io)).toBe(0)
    expect(io.out()).toBe(`PCR0  ${PCR[0]}\nPCR1  ${PCR[1]}\nPCR2  ${PCR[2]}\nPCR8  ${pcr8}\n`)
  })

  it('reads describe-enclaves output, one block per enclave', async () => {
    const file = join(dir, 'enclaves.json')
    await writeFile(file, describeEnclavesOutput('i-0aaaaaaaaaaaaaaa1'))
    const io = captureIo()
    expect(await runCli(['pcr0', '--from-json', file], io)).toBe(0)
    expect(io.out()).toBe(`custody\n  PCR0  ${PCR[0]}\n  PCR1  ${PCR[1]}\n  PCR2  ${PCR[2]}\n`)
  })

  it.each([
    ['build log text instead of JSON', buildOutput(), 'is not JSON'],
    ['JSON without Measurements', '{"EnclaveID":"x"}', 'no nitro-cli Measurements found: Measurements'],
    ['a short PCR0', JSON.stringify({ Measurements: { PCR0: 'abcd' } }), 'Measurements.PCR0 must be 96 hex digits (SHA-384)'],
  ])('fails with exit 1 on %s', async (_, text, message) => {
    const file = join(dir, `bad-${randomBytes(4).toString('hex')}.json`)
    await writeFile(file, text)
    const io = captureIo()
    expect(await runCli(['pcr0', '--from-json', file], io)).toBe(1)
    expect(io.err()).toContain(message)
    expect(io.err().trimEnd().split('\n')).toHaveLength(1)
  })

  it('is a usage error to read a missing file', async () => {
    const io = captureIo()
    expect(await runCli(['pcr0', '--from-json', join(dir, 'missing.json')], io)).toBe(2)
    expect(io.err()).toContain('--from-json: cannot read')
  })
})
