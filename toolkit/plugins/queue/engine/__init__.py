"""The queue cleaner's engine: items, classification, strikes and plans. Pure functions on
plain data (no HTTP, no database, no web): the service layer feeds it what the *arrs said."""
