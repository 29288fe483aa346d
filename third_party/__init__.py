"""Compatibility layers we write for frozen upstream libraries.

Installed as `mmul_jax.third_party`. Nothing here is copied from upstream:
each module re-implements, against today's JAX, the few upstream helpers
that no longer run.
"""
