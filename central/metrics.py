"""Process metrics with ``prometheus_client``: counters and histograms, so the figures of several
central instances can be summed (a quantile of one process cannot be added to another's).

Each app has its own registry (tests build many apps in one process); ``render`` sets the gauges
read from the database at scrape time and writes the Prometheus text format.
"""

from __future__ import annotations

import prometheus_client
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from central.supervise import TaskHealth

# the *_created series only double the size of a scrape; rates come from the counters themselves
prometheus_client.disable_created_metrics()

#: seconds from a command's creation to its result: from a quick reboot ack to a long relocation
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        #: the supervised long-running tasks: restarts and which are failing (``/healthz``)
        self.tasks = TaskHealth()
        self.registry.register(_TaskCollector(self.tasks))
        self._ingested = Counter("roomops_messages_ingested", "Agent messages applied, by type.", ["type"],
                                 registry=self.registry)
        self._duplicates = Counter("roomops_messages_duplicate",
                                   "Replayed agent messages acknowledged without effect.",
                                   registry=self.registry)
        self._rejected = Counter("roomops_messages_rejected", "Agent frames rejected as invalid.",
                                 registry=self.registry)
        self._latency = Histogram("roomops_command_latency_seconds",
                                  "Time from a command's creation to its result.", buckets=LATENCY_BUCKETS,
                                  registry=self.registry)
        self._links = Counter("roomops_links_accepted", "Agent links accepted by this instance.",
                              registry=self.registry)
        self._connected = Gauge("roomops_connected_agents", "Site agents connected to this instance.",
                                registry=self.registry)
        self._commands = Gauge("roomops_commands", "Commands in the database, by state.", ["state"],
                               registry=self.registry)
        self._faults = Gauge("roomops_open_faults", "Faults not yet closed.", registry=self.registry)

    def message_ingested(self, kind: str, new: bool) -> None:
        if new:
            self._ingested.labels(type=kind).inc()
        else:
            self._duplicates.inc()

    def message_rejected(self) -> None:
        self._rejected.inc()

    def command_finished(self, seconds: float) -> None:
        self._latency.observe(max(0.0, seconds))

    def link_accepted(self) -> None:
        self._links.inc()

    def render(self, *, connected_agents: int, open_faults: int, commands_by_state: dict[str, int]) -> str:
        self._connected.set(connected_agents)
        self._faults.set(open_faults)
        self._commands.clear()
        for state, count in commands_by_state.items():
            self._commands.labels(state=state).set(count)
        return generate_latest(self.registry).decode()


class _TaskCollector(Collector):
    """Restarts and failing state of the supervised tasks, read from ``TaskHealth`` at scrape time."""

    def __init__(self, tasks: TaskHealth) -> None:
        self.tasks = tasks

    def collect(self):  # type: ignore[no-untyped-def]
        restarts = CounterMetricFamily("roomops_task_restarts",
                                       "Restarts of a supervised task after an unexpected error.",
                                       labels=["task"])
        failing = GaugeMetricFamily("roomops_task_failing",
                                    "1 while a supervised task is failing or restarting.",
                                    labels=["task"])
        degraded = self.tasks.degraded()
        for name, count in sorted(self.tasks.restarts().items()):
            restarts.add_metric([name], count)
            failing.add_metric([name], int(name in degraded))
        yield restarts
        yield failing
