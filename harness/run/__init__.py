"""Running and storing: the results layout, the record store, the run plan (units deduplicated
across claims), executors, the runner and provenance."""
