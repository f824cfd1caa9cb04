#!/usr/bin/env node
/**
 * The enclave-custody CDK app. Context (`-c key=value` or cdk.json):
 *   eifPath (required)            the prebuilt enclave image (nitro-cli build-enclave)
 *   pcr0                          its PCR0; else read from <eif>.pcrs.json / pcrs.json beside it
 *   pcr1, pcr2, pcr8              further measurements the key policy requires
 *   allowDebugEnclave=true        accept a debug-mode enclave (PCR0 = 0…0) — development only
 *   adminArn                      key administrators, comma-separated (default: the account root)
 *   certificateArn, domainName    the NLB's ACM certificate and the name it covers
 *                                 (else CloudFormation parameters CertificateArn / ProxyDomainName)
 *   instanceType (m6i.xlarge), minCapacity / desiredCapacity / maxCapacity (2), enableNat (false),
 *   allowedClientCidrs, keyId (default), stackName (EnclaveCustody),
 *   hostFilesPath                 host files directory (default packages/enclave-runtime/host)
 */
import { App } from 'aws-cdk-lib'
import { buildCustodyApp } from '../lib/buildCustodyApp.js'
import { CustodyConfigError } from '../lib/config/readCustodyConfig.js'

try {
  buildCustodyApp(new App())
} catch (e) {
  // A context mistake is the operator's to fix: say which key and why, without a stack trace.
  if (!(e instanceof CustodyConfigError)) throw e
  process.stderr.write(`\n${e.message}\n\n`)
  process.exit(1)
}
