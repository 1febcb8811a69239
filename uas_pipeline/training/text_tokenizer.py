"""Text tokenizers: the built-in byte tokenizer (tiny LMs, no hub) and a wrapper of a model's own.

The byte tokenizer needs no training data and no download: ids are 3 specials, the 256 bytes of
UTF-8, then *phrases* — fixed strings that become one token each: every JSON key of the target
views (as ``"key":``), every vocabulary label (``"female"``, ``"medium"``, ``"laughter"``…), ``null``,
``true``, ``false`` and the recipe's instruction prompts. Encoding is greedy longest-phrase-first,
decoding concatenates bytes, so any text round-trips exactly and the schema's structure costs few
tokens. The phrase list is saved with the checkpoint, so later vocabulary changes never shift ids
of a trained model.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Protocol

BYTE_TOKENIZER_FILE = "byte_tokenizer.json"
_SPECIALS = ("<pad>", "<bos>", "<eos>")


class TextTokenizer(Protocol):
    pad_id: int
    bos_id: int | None
    eos_id: int
    vocab_size: int

    def encode(self, text: str) -> list[int]: ...

    def decode(self, ids: list[int]) -> str: ...

    def save(self, directory: Path) -> None: ...


def _schema_keys(schema: dict[str, Any]) -> set[str]:
    keys: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            props = node.get("properties")
            if isinstance(props, dict):
                keys.update(props)
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(schema)
    return keys


def default_phrases(prompts: list[str] | tuple[str, ...] = ()) -> list[str]:
    """Phrases of the byte tokenizer: view JSON keys, vocabulary labels, JSON literals, prompts."""
    from ..schema.vocab import AGE_GROUPS, EMOTIONS, EVENT_LABELS, GENDERS, LEVELS
    from ..targets import JSON_VIEWS, view_json_schema

    keys: set[str] = set()
    for view in JSON_VIEWS:
        keys |= _schema_keys(view_json_schema(view))
    labels = set(AGE_GROUPS) | set(EMOTIONS) | set(EVENT_LABELS) | set(GENDERS) | set(LEVELS)
    labels |= {"event", "background"}
    phrases = {f'"{k}":' for k in keys} | {f'"{v}"' for v in labels} | {"null", "true", "false"}
    phrases |= {p for p in prompts if p}
    return sorted(phrases)


class ByteTokenizer:
    """Bytes plus whole-phrase tokens; see the module docstring."""

    kind = "uas-byte-phrases"

    def __init__(self, phrases: list[str]) -> None:
        if len(set(phrases)) != len(phrases) or any(not p for p in phrases):
            raise ValueError("phrases must be unique and non-empty")
        self.phrases = list(phrases)
        self.pad_id, self.bos_id, self.eos_id = 0, 1, 2
        self._byte0 = len(_SPECIALS)
        self._phrase0 = self._byte0 + 256
        self.vocab_size = self._phrase0 + len(self.phrases)
        self._phrase_id = {p: self._phrase0 + i for i, p in enumerate(self.phrases)}
        self._phrase_bytes = [p.encode("utf-8") for p in self.phrases]
        ordered = sorted(self.phrases, key=lambda p: (-len(p), p))  # longest match wins
        self._pattern = re.compile("|".join(re.escape(p) for p in ordered)) if ordered else None

    def encode(self, text: str) -> list[int]:
        ids: list[int] = []
        pos = 0
        pattern = self._pattern
        while pos < len(text):
            m = pattern.search(text, pos) if pattern is not None else None
            stop = m.start() if m is not None else len(text)
            ids.extend(self._byte0 + b for b in text[pos:stop].encode("utf-8"))
            if m is None:
                break
            ids.append(self._phrase_id[m.group(0)])
            pos = m.end()
        return ids

    def decode(self, ids: list[int]) -> str:
        out = bytearray()
        for i in ids:
            if self._byte0 <= i < self._phrase0:
                out.append(i - self._byte0)
            elif self._phrase0 <= i < self.vocab_size:
                out += self._phrase_bytes[i - self._phrase0]
            # specials and ids beyond the text vocabulary (audio tokens) are not text
        return out.decode("utf-8", errors="replace")

    def save(self, directory: Path) -> None:
        doc = {"type": self.kind, "version": 1, "specials": list(_SPECIALS), "phrases": self.phrases}
        (Path(directory) / BYTE_TOKENIZER_FILE).write_text(json.dumps(doc, ensure_ascii=False, indent=1))

    @classmethod
    def load(cls, directory: Path) -> ByteTokenizer:
        doc = json.loads((Path(directory) / BYTE_TOKENIZER_FILE).read_text())
        if doc.get("type") != cls.kind or doc.get("version") != 1:
            raise ValueError(f"{directory}: not a {cls.kind} v1 tokenizer")
        return cls(doc["phrases"])


class HFTokenizer:
    """A ``transformers`` tokenizer (the LM's own) behind the same small interface."""

    def __init__(self, tokenizer: Any) -> None:
        self.tok = tokenizer
        eos = tokenizer.eos_token_id
        if eos is None:
            raise ValueError("the LM's tokenizer has no eos token; the model could never stop")
        self.eos_id = int(eos)
        self.pad_id = int(tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos)
        self.bos_id = None if tokenizer.bos_token_id is None else int(tokenizer.bos_token_id)
        self.vocab_size = len(tokenizer)

    def encode(self, text: str) -> list[int]:
        return list(self.tok.encode(text, add_special_tokens=False))

    def decode(self, ids: list[int]) -> str:
        ids = [i for i in ids if i < self.vocab_size]
        return self.tok.decode(ids, skip_special_tokens=True)

    def save(self, directory: Path) -> None:
        self.tok.save_pretrained(str(directory))

    @classmethod
    def from_pretrained(cls, source: str, local_files_only: bool = False) -> HFTokenizer:
        from transformers import AutoTokenizer

        return cls(AutoTokenizer.from_pretrained(source, local_files_only=local_files_only))


def load_text_tokenizer(directory: Path) -> TextTokenizer:
    """The tokenizer saved in a checkpoint's ``text_tokenizer/`` directory."""
    directory = Path(directory)
    if (directory / BYTE_TOKENIZER_FILE).is_file():
        return ByteTokenizer.load(directory)
    return HFTokenizer.from_pretrained(str(directory), local_files_only=True)
