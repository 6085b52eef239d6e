"""RoomOps central package."""
