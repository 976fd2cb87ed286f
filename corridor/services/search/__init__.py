"""Finding persons: the matching index and the engine's searches over it."""
