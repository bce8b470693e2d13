// An empty ES module: the reference for an ESM entry's own start-up cost.
