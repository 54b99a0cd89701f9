"""Settings: config.toml and the scene files, read and checked once (schema, config, scenes)."""
