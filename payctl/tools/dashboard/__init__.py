"""Dashboards over the audit API: the figures (one module), and the terminal view of them."""
