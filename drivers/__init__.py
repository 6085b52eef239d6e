"""RoomOps drivers package."""
