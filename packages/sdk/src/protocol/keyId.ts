/**
 * Key ids: 1–64 characters of [A-Za-z0-9._-], starting with a letter or digit (safe as a file and secret
 * name), and not 32 or more hex digits alone: such an id could be key material pasted into the wrong
 * field, and ids are echoed in errors, logs and secret names.
 */
export const KEY_ID_PATTERN = /^(?![0-9a-fA-F]{32,}$)[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/
export const KEY_ID_RULE = 'must be 1-64 characters of [A-Za-z0-9._-] starting with a letter or digit, and not a run of 32+ hex digits'
