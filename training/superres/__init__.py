"""The super-resolution stage's training: photo crops (photos), the loop, checkpoints and export (train)."""
