"""The data seam: a reusable Django app (add "extracted.seam" to INSTALLED_APPS) that carries a
domain's data between its owner and its followers. See docs/seam.md."""
