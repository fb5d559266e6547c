"""End-to-end tests: the whole local stack, driven over HTTP and the local AWS endpoint.

A package (not a bare directory) so that the stack fixture can be package-scoped: it is torn
down when the last e2e test has run, before any other suite starts its own in-process moto.
"""
