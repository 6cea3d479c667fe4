"""Ingest: every supported format -> the canonical `posts` / `accounts` tables (see `schema`)."""

from trollscope.ingest.core import READERS, FileReport, choose_reader, expand_paths, ingest
from trollscope.ingest.generic import parse_mapping

__all__ = ["READERS", "FileReport", "choose_reader", "expand_paths", "ingest", "parse_mapping"]
