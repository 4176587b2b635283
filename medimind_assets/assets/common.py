"""Conventions every asset shares."""

import dataclasses
import enum
import functools
import typing
from typing import Any

import dagster as dg
import pydantic
from pydantic import Field

from medimind_assets.errors import MediMindError
from medimind_assets.options import help_of
from medimind_assets.pipes_scripts import PipesScript
from medimind_assets.presentation import breakable, short_hash

OWNERS = ["team:medimind"]


def markdown_table(rows: list[dict], columns: list[str], width: int = 80, wrap: bool = False) -> str:
    """A small Markdown table for metadata; cells are shortened to `width` characters and kept on one line. With
    `wrap`, free text can wrap even where it has no spaces (ids, hashes and paths stay intact without it)."""

    def cell(value: object) -> str:
        text = " ".join(str(value).split()).replace("|", "\\|")
        text = text if len(text) <= width else text[: width - 1] + "…"
        return breakable(text) if wrap else text

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(row.get(c, "")) for c in columns) + " |" for row in rows]
    return "\n".join(lines)


def metadata_table(rows: list[dict], columns: list[str]) -> dg.MetadataValue:
    """A table the web UI shows as it is, without a click (Markdown needs one): every cell as text, content
    hashes shortened (`short_hash`; keep the full values in a JSON entry beside it)."""
    schema = dg.TableSchema(columns=[dg.TableColumn(name, "string") for name in columns])
    records = [dg.TableRecord({c: short_hash(row.get(c, "")) for c in columns}) for row in rows]
    return dg.MetadataValue.table(records=records, schema=schema)


def fails_cleanly(what: str):
    """Decorate an asset's function: the project's expected failures (`MediMindError`: bad input, a missing or
    altered artefact, a refused promotion) end the step as one `dg.Failure` carrying their message, "<what>:
    <message>", instead of a traceback from deep inside. The one place they are translated."""

    def decorate(fn):
        @functools.wraps(fn)
        def run(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except MediMindError as exc:
                raise dg.Failure(description=f"{what}: {exc}") from None

        return run

    return decorate


def medimind_asset(failure: str, **spec: Any):
    """`dg.asset(**spec)` with what every asset shares: OWNERS, code version "1", `fails_cleanly(failure)`."""
    return lambda fn: dg.asset(owners=OWNERS, code_version="1", **spec)(fails_cleanly(failure)(fn))


def reported_message(invocation: dg.PipesClientCompletedInvocation, script: PipesScript):
    """The payload `script`'s process sent as its one custom message `{script.message: payload}`.

    A process that exits cleanly without sending it did not finish its work: that fails the step.
    """
    key = script.message
    payloads = [m[key] for m in invocation.get_custom_messages() if isinstance(m, dict) and key in m]
    if not payloads:
        raise dg.Failure(description=f"{script.module} exited without reporting its result ({key!r} message)")
    return payloads[-1]


class _NullIsDefault(dg.Config):
    """`margin: null` in a run config (Dagster lets a field with a default be null) means the default, not a
    pydantic traceback in the step."""

    @pydantic.model_validator(mode="before")
    @classmethod
    def _drop_nulls(cls, values: Any) -> Any:
        if not isinstance(values, dict):
            return values
        nullable = {name for name, field in cls.model_fields.items() if type(None) in typing.get_args(field.annotation)}
        return {key: value for key, value in values.items() if value is not None or key in nullable}


def _is_enum(hint: Any) -> bool:
    return isinstance(hint, type) and issubclass(hint, enum.Enum)


def config_from(settings_class: type, name: str) -> type[dg.Config]:
    """A `dg.Config` class with one field per field of the settings dataclass: same name, type and default,
    the field's help as its description (what the launchpad shows). Subclass it to add run-control fields."""
    hints = typing.get_type_hints(settings_class)
    fields: dict[str, Any] = {}
    for field in dataclasses.fields(settings_class):
        default = field.default if field.default is not dataclasses.MISSING else field.default_factory()
        if isinstance(default, enum.Enum):
            default = default.value  # the launchpad edits plain values; the dataclass takes them back
        hint = hints[field.name]
        if _is_enum(hint):
            # Its values as a Literal: the launchpad refuses another before the run starts, not its step later.
            hint = typing.Literal[tuple(member.value for member in hint)]
        fields[field.name] = (hint, Field(default, description=help_of(field)))
    return pydantic.create_model(name, __base__=_NullIsDefault, **fields)


def settings_from(settings_class: type, config: dg.Config, what: str, exclude: tuple[str, ...] = ()) -> Any:
    """The settings dataclass from a run config derived with `config_from`, enum fields back as their members; a
    value its own validation refuses fails the step as "invalid <what> config: ..."."""
    values = {k: v for k, v in config.model_dump().items() if k not in exclude}
    hints = typing.get_type_hints(settings_class)
    try:
        values |= {key: hints[key](value) for key, value in values.items() if _is_enum(hints.get(key))}
        return settings_class(**values)
    except ValueError as exc:
        raise dg.Failure(description=f"invalid {what} config: {exc}") from None
