"""A local emulator of the Halo REST API, for the demo, the tests and the benchmarks.

The agent never imports this package; it needs the `emulator` extra (aiohttp).
"""
