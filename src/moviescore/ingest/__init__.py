"""Collecting movies: TMDB, snapshots, the offline sample;
validation; raw partitions by logical date."""
