"""Load generators. Each runs as its own process pinned off the server's core, and prints its
figures as one JSON object on stdout (Locust, which patches with gevent, must never be
imported by the runner)."""
