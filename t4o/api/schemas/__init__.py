"""JSON Schemas (2020-12, as OpenAPI 3.1 uses them) of the request bodies, query parameters and responses,
one module per resource; t4o.api.spec assigns them to the operations."""
