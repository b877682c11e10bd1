"""appworld-mini's worlds: one module per template, each with `build(world, params)` and
AppWorld's `evaluate(...)`. They run inside AppWorld's venv (the worker loads them from
their source under these names), so they import only the standard library and `common` at
module level, and `appworld` inside functions."""
