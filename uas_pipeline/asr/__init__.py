"""Speech recognition shared by the Whisper-family backends: speech pieces, cross-clip packing into
30 s windows, batched decoding, stitching, hallucination rules, the language rule (docs/asr.md)."""
