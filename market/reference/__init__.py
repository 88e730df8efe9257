"""Reference clearing and settlement in plain Python, written from the rules in docs/market.md
independently of the contracts; used only by tests (differential checks) and benchmarks.
"""
