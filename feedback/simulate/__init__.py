"""Synthetic production traffic for one landing day, with the ground truth of everything planted.

``simulate_day`` writes ``LANDING/dt=DATE/events-0000N.jsonl`` (the last file gzipped) in the
event contract of ``feedback.contract`` and ``LANDING/_truth/dt=DATE.json`` describing what a
perfect pipeline should find: malformed lines and their exact reject reasons, re-deliveries, every
planted PII value, near-duplicates, junk, orphan and cross-day feedback, consent, deletions and,
per model version, the latent answer quality and the feedback it earned. The truth format is
documented in docs/events.md.

Output is byte-for-byte deterministic per (seed, date, users, model_versions, previous day's
model_versions). The generation runs in phases whose random streams are independent, so that the
*structure* of a day (ids, users, conversations, prompts, which interactions are junk or
duplicates) does not depend on the model versions: that is what lets a later day regenerate the
previous day's interactions to refer to them.

Model versions: traffic is split evenly, per conversation, among ``model_versions``; the i-th
version (0-based, in the order given) has mean answer quality
``min(base_mean_quality + i * quality_step, max_mean_quality)``; an interaction's quality is
``u ** (1 / mean - 1)`` for a uniform latent ``u``, whose mean is exactly ``mean``.

The phases, in the order ``simulate_day`` (``day``) runs them: ``structure`` (ids, users,
conversations, prompts, planted irregularities), ``answers`` (model versions, quality and
responses), ``events`` (contract JSON, feedback driven by ``reactions``, the truth), ``write``
(files, ``malformed`` lines, re-deliveries, the truth file). ``topics`` and ``text`` hold the
text material and its generators, ``pii`` the planted PII, ``config`` the rates.
"""

from feedback.simulate.cli import main
from feedback.simulate.config import DEFAULT_CONFIG, SimulateConfig, mean_quality
from feedback.simulate.day import simulate_day
from feedback.simulate.malformed import MALFORMED_KINDS
from feedback.simulate.pii import iban_ok, luhn_ok

__all__ = ["DEFAULT_CONFIG", "MALFORMED_KINDS", "SimulateConfig", "iban_ok", "luhn_ok", "main",
           "mean_quality", "simulate_day"]
