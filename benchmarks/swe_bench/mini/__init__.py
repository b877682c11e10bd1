"""swe-mini: its projects, instances, and the tool that builds it from PyPI sdists."""
