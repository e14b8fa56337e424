"""The paper's world: configs, seeds, patterns, tasks and prompts (SPEC section 1). Imports nothing
else of the harness."""
