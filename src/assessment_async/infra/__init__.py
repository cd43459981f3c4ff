"""What the ASGI app talks to and how it is watched: the database pool, the upstream LLM
client, frame storage, metrics and logs."""
