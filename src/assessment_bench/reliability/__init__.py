"""Faults and bad input, driven against real servers: what each variant loses, and what it
refuses in time. `assessment-bench reliability` runs them over the variants; the tests in
tests/reliability run them on the ASGI app in CI."""
