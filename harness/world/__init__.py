"""The paper's world: configs, seeds, patterns, tasks and prompts (docs/paper.md §1). Imports
nothing else of the harness."""
