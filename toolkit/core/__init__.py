"""The host: plugin manager, database, jobs, settings, schedules. No web code here."""
