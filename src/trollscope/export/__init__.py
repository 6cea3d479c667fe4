"""Results written out for other tools: GEXF graphs, STIX 2.1 bundles, tables as CSV / Parquet / JSON."""
