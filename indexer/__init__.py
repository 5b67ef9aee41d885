"""Files → chunks → BM25 + vectors, incrementally.

The indexer walks a repository (honouring ignore files and secrets rules),
chunks each file along its syntax tree with tree-sitter, records a symbol
table, and keeps a BM25 index and a Qdrant vector collection up to date.  The
data passed to other layers is defined in :mod:`indexer.types`.
"""
