/** The one protocol version this build speaks. */
export const PROTOCOL_VERSION = 1
