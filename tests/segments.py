"""Checks on a job's segments against the speech detector's plan."""

from collections.abc import Sequence

# Segment times are stored in whole milliseconds.
TOLERANCE_S = 0.002


def assert_segments_follow_the_plan(
    segments: Sequence[tuple[float, float]], planned: Sequence[tuple[float, float]]
) -> None:
    """Every segment lies inside one planned clip, and every clip has text (the tiny models emit
    some for any clip this long). With the model's token times, a segment is tighter than its
    clip: the speech detector starts early and ends late."""
    inside = [
        [
            (start, end)
            for start, end in segments
            if clip_start - TOLERANCE_S <= start <= end <= clip_end + TOLERANCE_S
        ]
        for clip_start, clip_end in planned
    ]
    assert sum(len(found) for found in inside) == len(segments), (segments, planned)
    assert all(inside), (segments, planned)
