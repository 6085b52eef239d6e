"""Supervision of central's long-running tasks (hub delivery, sweeper, retention): restarts are
counted in ``/metrics`` (``roomops_task_restarts_total{task=...}``) and ``/healthz`` says degraded.

The supervisor itself is shared with the other side of the link: ``contracts.supervise``.
"""

from contracts.supervise import TaskHealth, TaskState, supervise

__all__ = ["TaskHealth", "TaskState", "supervise"]
