import { Stack, Validations } from 'aws-cdk-lib'
import type { IConstruct } from 'constructs'

/**
 * Acknowledge cdk-nag's `AwsSolutions-IAM5` finding for one wildcard resource in the IAM policies at
 * or below `scope`, with the reason. Only that resource string is acknowledged: any other wildcard
 * (an action, another ARN) still fails the synth.
 *
 * @param resource The resource as written in the policy statement (CDK tokens allowed).
 * @example
 * acknowledgeWildcardResource(role, '*', 'ssm:UpdateInstanceInformation has no resource-level permissions')
 */
export function acknowledgeWildcardResource(scope: IConstruct, resource: string, reason: string): void {
  Validations.of(scope).acknowledge({ id: `AwsSolutions-IAM5[Resource::${flattenReference(Stack.of(scope).resolve(resource))}]`, reason })
}

/** The flat form cdk-nag names a resource by: `<Logical.Attr>` for GetAtt, `<Logical>` for Ref, joins concatenated. */
function flattenReference(node: unknown): string {
  if (node === undefined) return ''
  if (typeof node === 'string') return node.replace(/\$\{/g, '<').replace(/\}/g, '>')
  if (typeof node !== 'object' || node === null) return JSON.stringify(node)
  const o = node as Record<string, unknown>
  if (o['Fn::Join']) {
    const [delimiter, parts] = o['Fn::Join'] as [string, unknown[]]
    return parts.map(flattenReference).join(delimiter)
  }
  if (o['Fn::Sub']) return flattenReference(o['Fn::Sub'])
  if (o['Fn::GetAtt']) {
    const [logicalId, attribute] = o['Fn::GetAtt'] as [unknown, unknown]
    return `<${flattenReference(logicalId)}.${flattenReference(attribute)}>`
  }
  if (o['Fn::ImportValue']) return flattenReference(o['Fn::ImportValue'])
  if (o.Ref) return `<${flattenReference(o.Ref)}>`
  return JSON.stringify(node)
}
