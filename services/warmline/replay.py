"""``warmline replay``: a JSONL file of events through the ingestion stream, with progress."""

from __future__ import annotations

from pathlib import Path

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from warmline.client.ingest import IngestClient, PublishSummary, read_events


async def replay_file(
    path: Path, target: str, api_key: str, batch_size: int
) -> tuple[PublishSummary, int]:
    """Send every event of ``path``; return the summary and how many were sent."""
    events = list(read_events(path))  # fails on a bad line before anything is sent
    client = IngestClient(target, api_key)
    columns = (
        TextColumn("replaying {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    try:
        with Progress(*columns, transient=False) as progress:
            task = progress.add_task(path.name, total=len(events))
            summary = await client.publish(
                events, batch_size=batch_size, on_ack=lambda _: progress.advance(task)
            )
    finally:
        await client.close()
    return summary, len(events)
