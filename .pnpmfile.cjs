// pnpm hooks of the workspace.
module.exports = {
  hooks: {
    /**
     * What a published @mp manifest keeps: no scripts (they call repo-internal tools such as
     * ../../tools/with-nodedir.mjs, and an install script would make pnpm >= 11 fail installs with
     * ERR_PNPM_IGNORED_BUILDS), no devDependencies (the private @mp/test-utils lives there), and
     * `gypfile: false` so npm does not compile on install either: the shipped prebuild is what loads.
     */
    beforePacking(pkg) {
      if (typeof pkg.name === 'string' && pkg.name.startsWith('@mp/') && pkg.private !== true) {
        delete pkg.scripts;
        delete pkg.devDependencies;
        if (pkg.gypfile !== undefined) pkg.gypfile = false;
      }
      return pkg;
    },
  },
};
