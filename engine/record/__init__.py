"""Recording: the show to MP4 (H.264 + AAC through PyAV) and WAV; live recordings started and stopped by
the performer."""
