"""The engine: run, preview and validate pipelines (extract -> steps -> mapping -> rules -> load)."""
