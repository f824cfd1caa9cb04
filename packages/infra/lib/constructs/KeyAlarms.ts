import { Duration, RemovalPolicy } from 'aws-cdk-lib'
import * as events from 'aws-cdk-lib/aws-events'
import * as iam from 'aws-cdk-lib/aws-iam'
import * as kms from 'aws-cdk-lib/aws-kms'
import * as sns from 'aws-cdk-lib/aws-sns'
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions'
import { Construct } from 'constructs'

/** KMS API calls on the sealing key that change who can use it or whether it exists. */
export const ALARMING_KMS_EVENTS = ['PutKeyPolicy', 'CreateGrant', 'ScheduleKeyDeletion', 'DisableKey'] as const

export interface KeyAlarmsProps {
  /** ARN of the watched key (a CloudFormation reference is fine). */
  readonly keyArn: string
  /** CloudTrail event names that raise the alarm. @default ALARMING_KMS_EVENTS */
  readonly eventNames?: readonly string[]
  /** An e-mail address to subscribe (it has to confirm). @default none: subscribe yourself to the topic */
  readonly email?: string
  /** @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy
}

/**
 * An alarm on the sealing key: an EventBridge rule on the CloudTrail management events of KMS
 * (`source: aws.kms`, detail-type `AWS API Call via CloudTrail`) whose `eventName` is one of
 * `PutKeyPolicy`, `CreateGrant`, `ScheduleKeyDeletion`, `DisableKey` and whose `resources` name the key's
 * ARN — successful or not — publishes the event to an SNS topic encrypted with its own KMS key, which only
 * EventBridge (for rules of this account) may use besides the administrators.
 *
 * Unverified here: EventBridge receives "AWS API Call via CloudTrail" events only while a CloudTrail trail
 * records management events in the account and region; delivery is best effort.
 */
export class KeyAlarms extends Construct {
  public readonly rule: events.Rule
  public readonly topic: sns.Topic
  public readonly topicKey: kms.Key

  constructor(scope: Construct, id: string, props: KeyAlarmsProps) {
    super(scope, id)
    const { keyArn, eventNames = ALARMING_KMS_EVENTS, removalPolicy = RemovalPolicy.RETAIN } = props
    if (eventNames.length === 0) throw new Error('KeyAlarms: eventNames must name at least one event')

    this.topicKey = new kms.Key(this, 'TopicKey', {
      description: 'enclave-custody: encrypts the sealing-key alarm topic',
      enableKeyRotation: true,
      rotationPeriod: Duration.days(365),
      removalPolicy,
      pendingWindow: Duration.days(30),
    })
    // EventBridge publishes to the encrypted topic, so it needs the topic key (the form AWS documents for it).
    this.topicKey.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'EventBridgeEncryptsAlarms',
        principals: [new iam.ServicePrincipal('events.amazonaws.com')],
        actions: ['kms:GenerateDataKey*', 'kms:Decrypt'],
        resources: ['*'],
      }),
    )
    this.topic = new sns.Topic(this, 'Topic', {
      displayName: 'enclave-custody sealing key alarm',
      masterKey: this.topicKey,
      enforceSSL: true,
    })
    if (props.email) this.topic.addSubscription(new subscriptions.EmailSubscription(props.email))

    this.rule = new events.Rule(this, 'Rule', {
      description: `enclave-custody: ${eventNames.join(', ')} on the sealing key (CloudTrail) → the alarm topic`,
      eventPattern: {
        source: ['aws.kms'],
        detailType: ['AWS API Call via CloudTrail'],
        detail: {
          eventSource: ['kms.amazonaws.com'],
          eventName: [...eventNames],
          resources: { ARN: [keyArn] },
        },
      },
    })
    // The target is wired by hand so that the topic accepts EventBridge's publish from this rule only
    // (targets.SnsTopic would let any rule, in any account, publish to it).
    this.topic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'ThisRulePublishes',
        principals: [new iam.ServicePrincipal('events.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [this.topic.topicArn],
        conditions: { ArnEquals: { 'aws:SourceArn': this.rule.ruleArn } },
      }),
    )
    this.rule.addTarget({ bind: () => ({ arn: this.topic.topicArn, id: 'AlarmTopic' }) })
  }
}
