"""How the ASGI app is served: the import path servers load, Uvicorn or Hypercorn, workers."""
