"""Controlled vocabularies of the UAS record (v1)."""

from __future__ import annotations

from typing import Literal, get_args

Level = Literal["very_low", "low", "medium", "high", "very_high"]
Gender = Literal["female", "male", "unknown"]
AgeGroup = Literal["child", "teen", "adult", "senior", "unknown"]
Emotion = Literal[
    "neutral",
    "happy",
    "sad",
    "angry",
    "fearful",
    "disgusted",
    "surprised",
    "calm",
    "bored",
    "other",
    "unknown",
]

LEVELS: tuple[str, ...] = get_args(Level)
GENDERS: tuple[str, ...] = get_args(Gender)
AGE_GROUPS: tuple[str, ...] = get_args(AgeGroup)
EMOTIONS: tuple[str, ...] = get_args(Emotion)

# Non-linguistic event labels. Backends map their own classes (AudioSet display names, ESC-50 ...)
# onto these; adding a label is an additive (minor) schema change. Speech is deliberately absent.
EVENT_LABELS = (
    "alarm",
    "animal",
    "applause",
    "baby_cry",
    "bell",
    "bird",
    "breathing",
    "car_horn",
    "cat",
    "cheering",
    "clapping",
    "clock_tick",
    "cough",
    "crowd",
    "crying",
    "dog",
    "door",
    "drilling",
    "engine",
    "footsteps",
    "glass_breaking",
    "gunshot",
    "hammer",
    "insect",
    "jackhammer",
    "keyboard_typing",
    "knock",
    "laughter",
    "music",
    "noise",
    "rain",
    "siren",
    "singing",
    "sneeze",
    "snoring",
    "telephone",
    "thunder",
    "vehicle",
    "water",
    "whistling",
    "wind",
    "other",
    # v1.1 additions (the event vocabulary, schemas/event_vocabulary.csv)
    "air_conditioning",
    "aircraft",
    "appliance",
    "beep",
    "children_playing",
    "click",
    "cooking",
    "creak",
    "dishes",
    "explosion",
    "farm_animal",
    "fire",
    "fireworks",
    "glass",
    "impact",
    "power_tool",
    "screaming",
    "tone",
    "tools",
    "train",
)

