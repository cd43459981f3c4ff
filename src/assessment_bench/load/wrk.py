"""wrk against the one-answer save: a Lua script spreads PUTs over many sessions and items,
and prints wrk's own latency percentiles as JSON when it finishes."""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path
from typing import Any

SCRIPT = """
local sessions = {%(sessions)s}
local counter = 0
request = function()
  counter = counter + 1
  local s = sessions[(counter %% #sessions) + 1]
  local path = "/api/sessions/" .. s[1] .. "/phq/responses/" .. ((counter %% 10) + 1)
  local headers = {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. s[2]}
  return wrk.format("PUT", path, headers, '{"answer": ' .. (counter %% 4) .. '}')
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON{"requests":%%d,"duration_us":%%d,"connect":%%d,"read":%%d,"write":%%d,' ..
    '"status":%%d,"timeout":%%d,"p50_us":%%d,"p90_us":%%d,"p99_us":%%d,"max_us":%%d}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"""


def run_wrk(base: str, sessions: list[dict[str, str]], seconds: float, connections: int,
            prefix: tuple[str, ...] = ()) -> dict[str, Any]:
    """Closed-loop saturation: `connections` connections saving answers for `seconds`."""
    lua = SCRIPT % {"sessions": ", ".join(f'{{"{s["session_id"]}", "{s["token"]}"}}'
                                          for s in sessions)}
    with tempfile.TemporaryDirectory() as folder:
        script = Path(folder) / "save.lua"
        script.write_text(lua)
        result = subprocess.run(
            [*prefix, "wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s",
             "--timeout", "10s", "-s", str(script), base],
            capture_output=True, text=True, timeout=seconds + 60)
    line = next((ln for ln in result.stdout.splitlines() if ln.startswith("WRKJSON")), None)
    if line is None:
        raise RuntimeError(f"wrk gave no result: {result.stdout[-500:]} {result.stderr[-500:]}")
    raw = json.loads(line[len("WRKJSON"):])
    seconds_run = raw["duration_us"] / 1e6
    errors = {k: raw[k] for k in ("connect", "read", "write", "status", "timeout") if raw[k]}
    ok = raw["requests"] - raw["status"]
    return {"saves_per_s": round(ok / seconds_run, 1), "requests": raw["requests"],
            "connections": connections, "errors": errors,
            "p50_ms": raw["p50_us"] / 1000, "p90_ms": raw["p90_us"] / 1000,
            "p99_ms": raw["p99_us"] / 1000, "max_ms": raw["max_us"] / 1000}
