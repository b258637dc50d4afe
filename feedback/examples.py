"""Documented example events, one per event type and feedback kind.

docs/events.md shows exactly these, as ```json blocks in this order; a test checks that the doc
and this module agree and that every example passes ``feedback.contract.parse_line``. The PII in
them is fake (reserved example domains, a 555 phone number).
"""

from __future__ import annotations

import json

INTERACTION = {
    "event_type": "interaction",
    "event_id": "7f3c9a2e-5b1d-4e8f-9a6c-2d4b8e1f0a37",
    "timestamp": "2026-11-28T09:15:02.412Z",
    "user_id": "user_3f9a1c7e2b40",
    "conversation_id": "c1d2e3f4-0a1b-4c2d-8e3f-5a6b7c8d9e0f",
    "turn": 2,
    "model_version": "v2",
    "messages": [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "How do I read a CSV file in Python?"},
        {"role": "assistant", "content": "Use the csv module: csv.DictReader(open(path))."},
        {"role": "user", "content": "Thanks! Can you add error handling? I'm Jane Roe, "
                                    "jane.roe@example.com."},
    ],
    "response": "Sure, Jane. Wrap the open() call in try/except FileNotFoundError and report "
                "the path that is missing.",
    "latency_ms": 1840.5,
    "consent": {"training": True},
    "metadata": {"app": "web", "app_version": "2.3.1"},
    "sdk": "flywheel-js/1.4.2",
}

FEEDBACK_THUMBS = {
    "event_type": "feedback",
    "event_id": "0b6e2d4a-9c1f-4a3b-8d5e-7f2a1c9b3e60",
    "timestamp": "2026-11-28T09:16:40.003Z",
    "user_id": "user_3f9a1c7e2b40",
    "interaction_id": "7f3c9a2e-5b1d-4e8f-9a6c-2d4b8e1f0a37",
    "kind": "thumbs",
    "value": 1,
    "comment": "exactly what I needed",
}

FEEDBACK_RATING = {
    "event_type": "feedback",
    "event_id": "5d8a1f3c-2e4b-4c6d-9a0e-1b3c5d7f9a2b",
    "timestamp": "2026-11-28T09:17:05.120Z",
    "user_id": "user_3f9a1c7e2b40",
    "interaction_id": "7f3c9a2e-5b1d-4e8f-9a6c-2d4b8e1f0a37",
    "kind": "rating",
    "value": 4,
    "metadata": {"surface": "sidebar"},
}

FEEDBACK_EDIT = {
    "event_type": "feedback",
    "event_id": "9e1b3d5f-7a2c-4e6a-8b0d-2f4a6c8e0b1d",
    "timestamp": "2026-11-28T09:18:30.500Z",
    "user_id": "user_3f9a1c7e2b40",
    "interaction_id": "7f3c9a2e-5b1d-4e8f-9a6c-2d4b8e1f0a37",
    "kind": "edit",
    "edited_response": "Wrap the open() call in try/except FileNotFoundError, print which path "
                       "is missing, and exit with status 1 so scripts notice the failure.",
}

FEEDBACK_COMPARISON = {
    "event_type": "feedback",
    "event_id": "3a5c7e9b-1d2f-4b4d-8f6a-8c0e2a4b6d8f",
    "timestamp": "2026-11-28T10:02:11.000Z",
    "user_id": "user_8c2d4e6f1a3b",
    "interaction_id": "e4f5a6b7-c8d9-4e0f-9a1b-2c3d4e5f6a7b",
    "kind": "comparison",
    "other_interaction_id": "f5a6b7c8-d9e0-4f1a-8b2c-3d4e5f6a7b8c",
    "preferred": "this",
}

FEEDBACK_FLAG = {
    "event_type": "feedback",
    "event_id": "6c8e0a2b-4d6f-4a8c-9e1b-3d5f7a9c1e3a",
    "timestamp": "2026-11-28T11:45:59.999+01:00",
    "user_id": "user_8c2d4e6f1a3b",
    "interaction_id": "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d",
    "kind": "flag",
    "reason": "offensive",
    "comment": "rude answer, not ok. Call me at (555) 010-4477 if you need details.",
}

DELETION_REQUEST = {
    "event_type": "deletion_request",
    "event_id": "2f4a6c8e-0b1d-4f3a-9c5e-7a9b1d3f5a7c",
    "timestamp": "2026-11-28T18:30:00Z",
    "user_id": "user_8c2d4e6f1a3b",
}

# Name -> example, in the order docs/events.md shows them.
EXAMPLES: dict[str, dict] = {
    "interaction": INTERACTION,
    "feedback_thumbs": FEEDBACK_THUMBS,
    "feedback_rating": FEEDBACK_RATING,
    "feedback_edit": FEEDBACK_EDIT,
    "feedback_comparison": FEEDBACK_COMPARISON,
    "feedback_flag": FEEDBACK_FLAG,
    "deletion_request": DELETION_REQUEST,
}


def as_json(example: dict) -> str:
    """The exact text of an example's ```json block in docs/events.md."""
    return json.dumps(example, indent=2, ensure_ascii=False)
