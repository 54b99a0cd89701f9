"""Sound: the embedded jungle synth (voices, dsp), Stable Audio through diffusers, seamless loops, a layer's
source, spectrograms."""
