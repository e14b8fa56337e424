"""The claim run as one object: typed options in (`options`), the pre-flight checks (`checks`), the
whole pipeline inside (`session`: load, check, plan, train, judge, family control, multiverse,
report), typed results out, and how a run ends (`errors`). The command line (harness.cli) and the
pytest plugin (harness.pytest_plugin) both build a `RunSession`; neither re-implements a step."""
