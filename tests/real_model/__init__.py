"""The real-model tier: tests against SmolLM2 served by llama.cpp (marker `real_model`).

A package, so that its conftest.py does not collide with tests/conftest.py as `conftest`.
"""
