"""Running and storing: the results layout, the record store, executors, the runner and provenance."""
