"""Pure code shared by the ASGI app and the gevent twin: instruments, scoring, FHIR, models."""
