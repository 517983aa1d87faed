"""Tiny apps for the pitfalls the article never mentions; each is served as `pitfalls.NAME:app`.

Only pitfalls the stage apps cannot show as they are get an app here. The tests in
tests/test_pitfalls*.py run them (and the stages) under a real uvicorn; docs/pitfalls.md explains.
"""
