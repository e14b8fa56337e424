"""The claims engine: claim files and their validation, grids and units, metrics read from records,
statistics and verdicts."""
