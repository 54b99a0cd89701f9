"""The live mix: the board, the mixer, the player and soundscape worker processes, rings, taps, the
stream, and the same mix rendered offline (docs/sound.md, Live audio)."""
