"""Conventions every asset shares."""

OWNERS = ["team:medimind"]


def markdown_table(rows: list[dict], columns: list[str], width: int = 80) -> str:
    """A small Markdown table for metadata; cells are shortened to `width` characters and kept on one line."""

    def cell(value: object) -> str:
        text = " ".join(str(value).split()).replace("|", "\\|")
        return text if len(text) <= width else text[: width - 1] + "…"

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(row.get(c, "")) for c in columns) + " |" for row in rows]
    return "\n".join(lines)
