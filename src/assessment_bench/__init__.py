"""The bench: every variant started the same way, and (growing) the scenarios and the report."""
