"""Deterministic answer text: the same seed and prompt always give the same tokens."""

from __future__ import annotations

import random

WORDS = (
    "thank you for sharing that with me it sounds like the last two weeks have been hard and "
    "it makes sense to feel tired when sleep does not come easily many people notice that "
    "small steps help such as a short walk a regular bedtime or talking with someone you "
    "trust would you like to tell me more about what has been on your mind lately we can "
    "take this one step at a time and your answers help the care team understand how best "
    "to support you"
).split()


def answer_tokens(seed: int, prompt: str, count: int) -> list[str]:
    """`count` tokens, each a word with its leading space (the first has none)."""
    rng = random.Random(f"{seed}|{prompt}")
    words = [rng.choice(WORDS) for _ in range(count)]
    return [word if i == 0 else f" {word}" for i, word in enumerate(words)]
