"""Speaker diarization algorithms (model side; the stages in ``uas_pipeline.stages`` wrap them).

* :mod:`.windows` — analysis windows over speech regions;
* :mod:`.embeddings` — speaker embeddings of windows (resemblyzer, pyannote models);
* :mod:`.clustering` — spectral clustering with an eigengap speaker count;
* :mod:`.segmentation` — window labels to turns on a time grid;
* :mod:`.overlap` — overlapped speech from mixed windows;
* :mod:`.embedding_cluster` — the embedding-cluster diarizer built from the above;
* :mod:`.convert`, :mod:`.pyannote_output` — raw turns to :class:`DiarizationOutput`;
* :mod:`.linking` — file-level speaker ids across the regions of a long file;
* :mod:`.scoring` — RTTM files, DER and JER.

Heavy libraries (torch, resemblyzer, pyannote, scikit-learn) are imported inside functions only.
"""
