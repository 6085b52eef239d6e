"""Backup and restore of central's evidence: the database and the recordings archive, by manifest.

A backup is a directory: ``manifest.json`` (versions, table row counts, file checksums), the database
(``database.sqlite3`` through SQLite's online backup API, or ``database.pgdump`` from ``pg_dump``) and
``recordings/`` with every archived recording. Restore checks every checksum before it writes anything.
"""

from central.backup.archive import BackupError, BackupResult, RestoreResult, backup, restore, rotate

__all__ = ["BackupError", "BackupResult", "RestoreResult", "backup", "restore", "rotate"]
