"""The catalog service: the shop's catalogue taken out of the monolith, with its own database.

Run it with `python -m extracted.catalog`. Its JSON API answers exactly as the monolith's
`/api/products/` and `/api/categories/` do; its rows arrive from the monolith through the data
seam (extracted.seam) until ownership of the catalog moves here. The event contract between the
two is `extracted/catalog/contract.py`.
"""
