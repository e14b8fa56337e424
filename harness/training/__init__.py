"""Training ensembles of models by online SGD on the hinge loss (or Adam for the deep model), with per-member failure tracking."""
