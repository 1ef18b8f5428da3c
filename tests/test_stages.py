"""One stage vocabulary: the engine's Stage is the model's choices and the pages' labels."""

import re
from pathlib import Path

from gpu_engine.stages import Stage
from transcription.models import JobStage

API_JS = Path(__file__).resolve().parent.parent / "static" / "js" / "api.js"


def test_the_models_stages_are_the_engines():
    assert list(JobStage.values) == [stage.value for stage in Stage]


def test_the_pages_label_every_stage_and_no_other():
    # The pages are static files, so they keep their own labels; this keeps the keys honest.
    labels = re.search(r"const STAGES = \{(.*?)\};", API_JS.read_text(), re.DOTALL).group(1)
    assert re.findall(r"^\s*(\w+):", labels, re.MULTILINE) == [stage.value for stage in Stage]
