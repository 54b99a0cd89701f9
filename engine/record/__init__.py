"""Recording: shows to MP4 (H.264 + AAC through PyAV) and WAV, live or rendered offline on a virtual clock."""
