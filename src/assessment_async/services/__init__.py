"""Plain async functions, one module per domain; each takes the connection it runs on."""
