"""Start an app under a real uvicorn, read its console, and time one job.

Used by the tests, the benchmark (`bench/`) and the pitfall scripts (`pitfalls/`) alike: the one
place that knows how to start uvicorn, so none of them depends on a test module.
"""
