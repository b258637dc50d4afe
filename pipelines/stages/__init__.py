"""The curation job's stages, in the order records flow through them.

Each is a composite PTransform on ``pipelines.stages.base.Stage``, which counts ``in``, ``out``
and ``dropped_<reason>`` for every stage the same way (Beam counters and ``stats`` tallies).
"""

from pipelines.stages.attach import AttachFeedback
from pipelines.stages.base import REJECTS, TALLIES, Stage, reject_row
from pipelines.stages.dedup import DedupExactDuplicates, DedupNear, duplicate_of
from pipelines.stages.erasure import DropErasedUsers
from pipelines.stages.filter import FilterQuality
from pipelines.stages.parse import CollapseRedeliveries, ParseEvents, last_user_message
from pipelines.stages.read import ReadConfig, ReadLandingLines
from pipelines.stages.resolve import ResolveFeedback
from pipelines.stages.scrub import ScrubPII
from pipelines.stages.write import ComputeStats, WriteTables, row_tallies, to_row
from warehouse.schemas import STAGES  # the stats table's stage vocabulary

__all__ = [
    "REJECTS", "STAGES", "TALLIES", "AttachFeedback", "CollapseRedeliveries", "ComputeStats",
    "DedupExactDuplicates", "DedupNear", "DropErasedUsers", "FilterQuality", "ParseEvents",
    "ReadConfig", "ReadLandingLines", "ResolveFeedback", "ScrubPII", "Stage", "WriteTables",
    "duplicate_of", "last_user_message", "reject_row", "row_tallies", "to_row",
]
