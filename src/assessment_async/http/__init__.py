"""HTTP plumbing of the ASGI app: tokens, error answers, JSON in and out, body flow control,
uploads decoded as they stream, and the served OpenAPI document."""
