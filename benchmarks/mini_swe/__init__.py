"""mini-swe-agent (2.4.6, PyPI) side by side with our agents on SWE-bench instances.

    bash benchmarks/mini_swe/setup.sh          # its own venv, .venv-mini (idempotent)
    python -m benchmarks.mini_swe.run --model "oracle:swe,p=0.7,q=0.1,seed=0" -o OUT

`run.py` (our venv) serves the model with `agents serve`, runs `driver.py` in
mini-swe-agent's venv (mini's DefaultAgent, text-based model, LocalEnvironment in a
checkout at the base commit) and grades its predictions with our harness.
`swebench_backticks.yaml` is mini-swe-agent 2.4.6's config of that name, verbatim (MIT
license), for the tests that imitate mini's protocol without mini installed.
"""
