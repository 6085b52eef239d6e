"""Supervision of the agent's long-running tasks (central link, health polling, scheduler jobs): the
failing state shows in ``Agent.health()`` and reaches central as ``task_failed`` events.

The supervisor itself is shared with the other side of the link: ``contracts.supervise``.
"""

from contracts.supervise import TaskHealth, TaskState, supervise

__all__ = ["TaskHealth", "TaskState", "supervise"]
