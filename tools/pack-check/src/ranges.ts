/**
 * The rule for how the @mp packages name each other in their manifests (DESIGN §12: one process, one
 * group; installs with npm, pnpm and yarn). {@link rangeProblems} lists every breach, one line each.
 *
 * 1. Between @mp packages, a published package's `dependencies` and `peerDependencies` say
 *    `workspace:^`, which pnpm publishes as `^<that package's version>`: on 0.x the same minor line, the
 *    one whose internals (`@mp/memory/internal` is not covered by semver) it was built and tested
 *    against, and the range @mp/eal itself asks of @mp/memory, so a package manager keeps one copy.
 *    (`tools/version.mjs`, the version step of `pnpm release`, widens the peer ranges only while
 *    `changeset version` runs, so a minor of eal or memory makes its 0.x peer dependents minors, not 1.0.0.)
 * 2. @mp/eal and @mp/memory hold the process's group: every published library built on it has them as
 *    `peerDependencies` — the application's copy is the one it uses — never as `dependencies`, and lists
 *    them in `devDependencies` too (`workspace:^`), so the workspace links them. @mp/eal depends on
 *    @mp/memory. An application (a package with `bin`: the `mp` command) depends on them instead.
 * 3. Every other @mp library a package uses is a dependency, never a peer.
 * 4. Private workspace packages (test and bench helpers) appear only in `devDependencies`, as
 *    `workspace:*`.
 * 5. What a package loads or builds its addon with (node-gyp-build, node-addon-api) is a dependency,
 *    never a peer: yarn 1 installs no peers, and a prebuild must load without the application's help.
 */

/** The fields of a package.json this rule reads. */
export interface Manifest {
  name: string;
  version: string;
  private?: boolean;
  bin?: unknown;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}

/** The packages that hold the process's group (rule 2). */
export const GROUP_PEERS = ['@mp/eal', '@mp/memory'] as const;
const ADDON_TOOLS = ['node-gyp-build', 'node-addon-api'];

/** Every breach of the rule among `all` (every workspace package's manifest), one line each. */
export function rangeProblems(all: readonly Manifest[]): string[] {
  const out: string[] = [];
  const isPrivate = new Set(all.filter((m) => m.private === true).map((m) => m.name));
  const isOurs = (dep: string): boolean => all.some((m) => m.name === dep);
  for (const m of all) {
    const deps = m.dependencies ?? {};
    const peers = m.peerDependencies ?? {};
    const dev = m.devDependencies ?? {};
    for (const [field, list] of [['dependencies', deps], ['peerDependencies', peers], ['optionalDependencies', m.optionalDependencies ?? {}]] as const) {
      for (const [dep, range] of Object.entries(list)) {
        if (isPrivate.has(dep)) out.push(`${m.name}: private ${dep} in ${field} (rule 4: devDependencies only)`);
        else if (isOurs(dep) && m.private !== true && range !== 'workspace:^') out.push(`${m.name}: ${field} ${dep} is '${range}', not 'workspace:^' (rule 1)`);
      }
    }
    for (const [dep, range] of Object.entries(dev)) {
      if (isPrivate.has(dep) && range !== 'workspace:*') out.push(`${m.name}: devDependencies ${dep} is '${range}', not 'workspace:*' (rule 4)`);
      if (isOurs(dep) && !isPrivate.has(dep) && range !== 'workspace:^') out.push(`${m.name}: devDependencies ${dep} is '${range}', not 'workspace:^' (rule 2)`);
    }
    for (const dep of ADDON_TOOLS) if (dep in peers) out.push(`${m.name}: ${dep} is a peer dependency (rule 5: a dependency)`);
    if (m.private === true) continue;
    for (const dep of Object.keys(peers)) {
      if (isOurs(dep) && !(GROUP_PEERS as readonly string[]).includes(dep)) out.push(`${m.name}: ${dep} is a peer dependency (rule 3: only ${GROUP_PEERS.join(' and ')} are)`);
    }
    const usesGroup = GROUP_PEERS.some((g) => g in deps || g in peers);
    if (m.name === '@mp/memory' || !usesGroup) continue;
    if (m.name === '@mp/eal') {
      if (!('@mp/memory' in deps)) out.push(`@mp/eal: @mp/memory is not a dependency (rule 2)`);
      continue;
    }
    for (const g of GROUP_PEERS) {
      if (m.bin !== undefined) {
        if (g in peers) out.push(`${m.name}: an application, yet ${g} is a peer dependency (rule 2: a dependency)`);
        continue;
      }
      if (g in deps) out.push(`${m.name}: ${g} is a dependency (rule 2: a peer dependency, and a devDependency)`);
      if (!(g in peers)) out.push(`${m.name}: ${g} is not a peer dependency (rule 2)`);
      else if (!(g in dev)) out.push(`${m.name}: peer ${g} is not in devDependencies too (rule 2)`);
    }
  }
  return out;
}
