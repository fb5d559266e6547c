"""What the Makefile runs for developers: the demo, the arm64 build, benchmarks and checks.

Each module is a ``python -m payctl.devtools.<name>`` entry point; most start a local stack.
"""
