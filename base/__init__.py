"""The leaf modules every layer uses: configuration, errors, paths, logging, token estimates, CPU policy.

`indexer/` and `retrieval/` import these without reaching into `assistant/`; this
package imports nothing of the project's own.
"""
