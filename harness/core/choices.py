"""The fixed names the options use: claim profiles, executors, family controls, the reference.

Kept here, with no import of torch or of any layer above, so that the option table the command line
and the pytest plugin share (harness.session.options) can offer them as choices without loading the
training stack: `iclcheck --help` and a pytest run that does not ask for claims stay light."""

from __future__ import annotations

PROFILES = ("quick", "nightly")  # claim-file profiles: [profiles.quick], [profiles.nightly]
EXECUTORS = ("local", "process", "dask")  # where ensembles train (harness.run.execution)
FAMILIES = ("holm", "bh")  # family-wise control of refutations across the claims of a run
REFERENCE_ENV = "ICLCHECK_REFERENCE"  # the reference run the ledger checks plans against
