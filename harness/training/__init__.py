"""Training ensembles of models by online SGD on the hinge loss (or Adam), in pieces: the data
stream, the optimiser step, failure tracking, checkpointing, and the process-wide runtime settings
the entry points apply."""
