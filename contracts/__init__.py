"""Agent <-> central wire schema (pydantic, versioned). Imports nothing else of ours."""

from contracts.messages import *  # noqa: F403

