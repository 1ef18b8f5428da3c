"""Worker-side recognition: decoding, VAD, models, device, batching.

Nothing here imports Django models; torch, funasr and faster-whisper are imported lazily so the
web process can import the light modules (`types`, `presets`, `stages`) without them.
"""
