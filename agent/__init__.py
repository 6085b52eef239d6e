"""RoomOps agent package."""
