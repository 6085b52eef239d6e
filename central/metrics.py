"""Process metrics, rendered by hand in the Prometheus text format (no client library)."""

from __future__ import annotations

import threading
from collections import deque

from central.supervise import TaskHealth

LATENCY_WINDOW = 1000
QUANTILES = (0.5, 0.9, 0.99)


class Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.ingested: dict[str, int] = {}
        self.duplicates = 0
        self.rejected = 0
        self._latency_count = 0
        self._latency_sum = 0.0
        self._latencies: deque[float] = deque(maxlen=LATENCY_WINDOW)
        #: the supervised long-running tasks: restarts and which are failing (``/healthz``)
        self.tasks = TaskHealth()

    def message_ingested(self, kind: str, new: bool) -> None:
        with self._lock:
            if new:
                self.ingested[kind] = self.ingested.get(kind, 0) + 1
            else:
                self.duplicates += 1

    def message_rejected(self) -> None:
        with self._lock:
            self.rejected += 1

    def command_finished(self, seconds: float) -> None:
        with self._lock:
            self._latency_count += 1
            self._latency_sum += seconds
            self._latencies.append(seconds)

    def render(self, *, connected_agents: int, open_faults: int, commands_by_state: dict[str, int]) -> str:
        with self._lock:
            ingested = dict(self.ingested)
            duplicates, rejected = self.duplicates, self.rejected
            count, total = self._latency_count, self._latency_sum
            window = sorted(self._latencies)
        lines = [
            "# HELP roomops_connected_agents Site agents connected to this instance.",
            "# TYPE roomops_connected_agents gauge",
            f"roomops_connected_agents {connected_agents}",
            "# HELP roomops_messages_ingested_total Agent messages applied, by type.",
            "# TYPE roomops_messages_ingested_total counter",
        ]
        lines += [f'roomops_messages_ingested_total{{type="{k}"}} {v}' for k, v in sorted(ingested.items())]
        lines += [
            "# HELP roomops_messages_duplicate_total Replayed agent messages acknowledged without effect.",
            "# TYPE roomops_messages_duplicate_total counter",
            f"roomops_messages_duplicate_total {duplicates}",
            "# HELP roomops_messages_rejected_total Agent frames rejected as invalid.",
            "# TYPE roomops_messages_rejected_total counter",
            f"roomops_messages_rejected_total {rejected}",
            "# HELP roomops_command_latency_seconds Time from a command's creation to its result.",
            "# TYPE roomops_command_latency_seconds summary",
        ]
        for q in QUANTILES:
            value = window[min(len(window) - 1, int(q * len(window)))] if window else float("nan")
            lines.append(f'roomops_command_latency_seconds{{quantile="{q}"}} {value}')
        lines += [
            f"roomops_command_latency_seconds_sum {total}",
            f"roomops_command_latency_seconds_count {count}",
            "# HELP roomops_commands Commands in the database, by state.",
            "# TYPE roomops_commands gauge",
        ]
        lines += [f'roomops_commands{{state="{k}"}} {v}' for k, v in sorted(commands_by_state.items())]
        lines += [
            "# HELP roomops_open_faults Faults not yet closed.",
            "# TYPE roomops_open_faults gauge",
            f"roomops_open_faults {open_faults}",
            "# HELP roomops_task_restarts_total Restarts of a supervised task after an unexpected error.",
            "# TYPE roomops_task_restarts_total counter",
        ]
        restarts = sorted(self.tasks.restarts().items())
        lines += [f'roomops_task_restarts_total{{task="{k}"}} {v}' for k, v in restarts]
        failing = self.tasks.degraded()
        lines += ["# HELP roomops_task_failing 1 while a supervised task is failing or restarting.",
                  "# TYPE roomops_task_failing gauge"]
        lines += [f'roomops_task_failing{{task="{k}"}} {int(k in failing)}' for k, _ in restarts]
        return "\n".join(lines) + "\n"
