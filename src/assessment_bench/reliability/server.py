"""One variant as a real, restartable server on loopback, and the stack around it."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from assessment_bench.variants import VARIANTS, start, stop, wait_ready
from assessment_dev.embedded_db import EmbeddedPostgres
from assessment_dev.ports import free_port


@dataclass
class Stack:
    """What a fault needs besides the server under test."""

    database_url: str
    llm_url: str  # the fake LLM's base URL, ending in /v1
    workdir: Path  # server logs and captured frames go under it
    # The cluster behind database_url when this process can stop and start it; None when
    # DATABASE_URL points elsewhere (faults that stop PostgreSQL then report "not run").
    postgres: EmbeddedPostgres | None = None


@dataclass
class Server:
    variant: str
    stack: Stack
    env: dict[str, str] = field(default_factory=dict)
    workers: int = 1
    port: int = 0
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.stack.workdir / f"{self.variant}.log"

    def start(self) -> None:
        self.port = free_port()
        self.stack.workdir.mkdir(parents=True, exist_ok=True)
        env = {"DATABASE_URL": self.stack.database_url, "LLM_BASE_URL": self.stack.llm_url,
               "CAPTURE_DIR": str(self.stack.workdir / f"{self.variant}-captures"),
               "LOG_LEVEL": "WARNING"} | self.env
        with open(self.log_path, "ab") as log:
            self.process = start(VARIANTS[self.variant], self.port, workers=self.workers,
                                 env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_ready(self.process, self.port)
        except RuntimeError as error:
            raise RuntimeError(f"{self.variant}: {error}\n{self.log_tail()}") from None

    def stop(self, grace: float = 15) -> None:
        if self.process is not None:
            stop(self.process, grace)

    def processes(self) -> list[psutil.Process]:
        """The server's whole process tree (master and workers)."""
        if self.process is None or self.process.poll() is not None:
            return []
        root = psutil.Process(self.process.pid)
        return [root, *root.children(recursive=True)]

    def rss_bytes(self) -> int:
        total = 0
        for proc in self.processes():
            try:
                total += proc.memory_info().rss
            except psutil.NoSuchProcess:
                pass
        return total

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except FileNotFoundError:
            return ""
