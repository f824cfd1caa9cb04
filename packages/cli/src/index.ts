export { type Anvil, anvilBinary, startAnvil, stopChild } from './anvil.js'
export { type DevStack, type DevStackOptions, startDevStack } from './devStack.js'
