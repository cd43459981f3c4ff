"""wrk against the one-answer save, as participants send it: a Lua script replays the shared
schedule (load/participants.py) from a file, nine answers and a submit per participant, and
prints wrk's own latency percentiles and what it sent as JSON when it finishes."""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from assessment_bench.load.participants import Step

SCRIPT = """
local sessions, items, answers = {}, {}, {}
counter, saves, submits = 0, 0, 0  -- globals: done() reads them with thread:get
local threads = {}

init = function(args)
  for line in io.lines(args[1]) do
    local sid, token, item, answer = line:match("(%S+) (%S+) (%S+) (%S+)")
    table.insert(sessions, {sid, token})
    table.insert(items, tonumber(item))
    table.insert(answers, answer)
  end
end

request = function()
  counter = counter + 1
  local i = ((counter - 1) % #items) + 1
  local s = sessions[i]
  local headers = {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. s[2]}
  if items[i] == 0 then
    submits = submits + 1
    return wrk.format("POST", "/api/sessions/" .. s[1] .. "/phq/submit", headers,
                      '{"responses": []}')
  end
  saves = saves + 1
  return wrk.format("PUT", "/api/sessions/" .. s[1] .. "/phq/responses/" .. items[i], headers,
                    '{"answer": ' .. answers[i] .. '}')
end

setup = function(thread)
  table.insert(threads, thread)
end

done = function(summary, latency, requests)
  local sent_saves, sent_submits, sent = 0, 0, 0
  for _, thread in ipairs(threads) do
    sent_saves = sent_saves + thread:get("saves")
    sent_submits = sent_submits + thread:get("submits")
    sent = math.max(sent, thread:get("counter"))
  end
  local e = summary.errors
  io.write(string.format(
    'WRKJSON{"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,' ..
    '"status":%d,"timeout":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,' ..
    '"saves_sent":%d,"submits_sent":%d,"sent":%d}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    sent_saves, sent_submits, sent))
end
"""


def write_schedule(path: Path, sessions: list[dict[str, str]], steps: list[Step]) -> None:
    """One line per request: session id, token, item (0: submit), answer."""
    with path.open("w") as out:
        for step in steps:
            session = sessions[step.session]
            out.write(f"{session['session_id']} {session['token']} {step.item} {step.answer}\n")


def run_wrk(base: str, schedule: Path, length: int, seconds: float, connections: int,
            prefix: tuple[str, ...] = ()) -> dict[str, Any]:
    """Closed-loop saturation: `connections` connections replaying the schedule file (of
    `length` requests) for `seconds`."""
    with tempfile.TemporaryDirectory() as folder:
        script = Path(folder) / "participants.lua"
        script.write_text(SCRIPT)
        result = subprocess.run(
            [*prefix, "wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s",
             "--timeout", "10s", "-s", str(script), base, "--", str(schedule)],
            capture_output=True, text=True, timeout=seconds + 60)
    line = next((ln for ln in result.stdout.splitlines() if ln.startswith("WRKJSON")), None)
    if line is None:
        raise RuntimeError(f"wrk gave no result: {result.stdout[-500:]} {result.stderr[-500:]}")
    raw = json.loads(line[len("WRKJSON"):])
    seconds_run = raw["duration_us"] / 1e6
    errors = {k: raw[k] for k in ("connect", "read", "write", "status", "timeout") if raw[k]}
    ok = raw["requests"] - raw["status"]
    share = raw["saves_sent"] / max(1, raw["saves_sent"] + raw["submits_sent"])
    if raw["sent"] > length:
        errors["schedule_wrapped"] = raw["sent"] - length  # sessions reused after submitting
    return {"saves_per_s": round(ok * share / seconds_run, 1),
            "requests_per_s": round(ok / seconds_run, 1), "requests": raw["requests"],
            "submits": raw["submits_sent"], "connections": connections, "errors": errors,
            "p50_ms": raw["p50_us"] / 1000, "p90_ms": raw["p90_us"] / 1000,
            "p99_ms": raw["p99_us"] / 1000, "max_ms": raw["max_us"] / 1000}
