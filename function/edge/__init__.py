"""The HTTP edge: routes, body reading, problem answers, and the OpenAPI documents."""
