"""RoomOps roomops package."""
