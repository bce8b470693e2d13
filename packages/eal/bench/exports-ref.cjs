// Reference: a CommonJS start that resolves one package through an "exports" map (here this package's
// own package.json), so Node loads its package resolver — a cost every app that uses a modern package pays.
require('@mp/eal/package.json');
