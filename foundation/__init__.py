"""The floor every other package stands on: user-facing errors, crash-safe JSON-lines run
files, the run primitive (lock, resume, append), budgets. It imports nothing of ours, so
`search`, `sandboxes`, `agents`, `games` and `benchmarks` can all use it without a cycle."""
