"""Query → ranked chunks → token-budgeted context.

Hybrid search (BM25 + vectors fused by reciprocal rank), definitions at the
cursor, a PageRank-ranked repo map and context assembly under a hard token
budget.  Reads what :mod:`indexer` wrote; never writes the index.
"""
