"""Thin Flask routes: validate, call a service (sync, or phase 2's wrappers), shape the answer."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from flask import current_app


def call(sync_fn: Callable[..., Any], async_fn: Callable[..., Coroutine[Any, Any, Any]],
         *args: Any) -> Any:
    """The service call as the variant makes it: directly, or (phase 2) through asyncio.run()
    of the notes' run_in_executor wrapper."""
    if current_app.config["PHASE2"]:
        return asyncio.run(async_fn(*args))
    return sync_fn(*args)
