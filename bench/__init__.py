"""Benchmarks: GraphQL against bare Starlette routes on the same engine (`make bench`)."""
