"""Sound: the embedded jungle synth, Stable Audio through diffusers, seamless loops, `postcards soundscape`."""
