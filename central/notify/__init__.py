"""What changed in a committed transaction, and who hears of it.

Services note ids on the session (``central.services.wake``); the unit of work's listeners
(``unit.py``) collect the ORM writes of the transaction too, send the ids with ``pg_notify``
inside the committing transaction on PostgreSQL, and publish them on the instance's
``ChangeBus`` once the commit succeeded. ``PgListener`` brings other instances' changes in.
"""
