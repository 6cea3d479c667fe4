"""Enrichment of detection results: account signals, DISARM techniques, narratives.

The three are peers: each reads the store's detection tables and never imports another.
"""
