-- Pilot only: the database where `askonce seed` writes the synthetic
-- agencies (connect.sources_url). Real agencies publish from their own
-- databases, each connector instance with its own url.
CREATE DATABASE askonce_sources OWNER askonce;
