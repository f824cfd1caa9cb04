/**
 * The changelog lines `changeset version` writes (`"changelog": "./changelog.cjs"` in config.json): each
 * changeset's summary as written, without the commit hash the default generator puts in front of it, and one
 * line naming the workspace packages a release picked up. A CHANGELOG is for the package's users; the
 * commits are in git.
 */

/** One changeset's summary: its first line as a list item, the lines after it indented under it. */
async function getReleaseLine(changeset) {
  const [first, ...rest] = changeset.summary.trim().split('\n').map((line) => line.trimEnd())
  return [`- ${first}`, ...rest.map((line) => (line === '' ? '' : `  ${line}`))].join('\n')
}

/** The workspace packages this release depends on at their new versions (pinned exactly when packed). */
async function getDependencyReleaseLine(_changesets, dependenciesUpdated) {
  if (dependenciesUpdated.length === 0) return ''
  return `- Depends on ${dependenciesUpdated.map((d) => `\`${d.name}@${d.newVersion}\``).join(', ')}.`
}

module.exports = { getReleaseLine, getDependencyReleaseLine }
