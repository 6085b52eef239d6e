"""RoomOps simulators package."""
