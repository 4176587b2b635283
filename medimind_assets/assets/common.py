"""Conventions every asset shares."""

import dagster as dg

OWNERS = ["team:medimind"]


def markdown_table(rows: list[dict], columns: list[str], width: int = 80) -> str:
    """A small Markdown table for metadata; cells are shortened to `width` characters and kept on one line."""

    def cell(value: object) -> str:
        text = " ".join(str(value).split()).replace("|", "\\|")
        return text if len(text) <= width else text[: width - 1] + "…"

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(row.get(c, "")) for c in columns) + " |" for row in rows]
    return "\n".join(lines)


def reported_message(invocation: dg.PipesClientCompletedInvocation, key: str, script: str):
    """The payload the Pipes process sent as its one custom message `{key: payload}`.

    A process that exits cleanly without sending it did not finish its work: that fails the step.
    """
    payloads = [m[key] for m in invocation.get_custom_messages() if isinstance(m, dict) and key in m]
    if not payloads:
        raise dg.Failure(description=f"{script} exited without reporting its result ({key!r} message)")
    return payloads[-1]
