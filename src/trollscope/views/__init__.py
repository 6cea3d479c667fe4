"""The one read layer: every front end (CLI, report, web UI, Python API, exports) reads results here.

Functions take a store and return plain dicts and lists (or Arrow tables); none renders.
"""
