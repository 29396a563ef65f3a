"""What every part of the site file shares: the strict base model, ids, points, and the YAML loader
that turns validation errors into messages naming the field path."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core.errors import HallwatchError
from core.redact import redact_text

Id = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$", description="lowercase id: a-z 0-9 _ -")]
Point = tuple[Annotated[float, Field(ge=0.0, le=1.0)], Annotated[float, Field(ge=0.0, le=1.0)]]
M = TypeVar("M", bound=BaseModel)
ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def unique(what: str, ids: list[str]) -> None:
    seen: set[str] = set()
    for item in ids:
        if item in seen:
            raise ValueError(f"duplicate id {item!r} in {what}")
        seen.add(item)


def load_yaml_model(path: Path, model: type[M], error: type[HallwatchError], *, what: str) -> M:
    """Read a YAML document and validate it as `model`. Every problem is an `error` naming the file,
    the document (`what`) and, for invalid values, the field path; URL passwords are masked."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise error(f"{path}: cannot read {what}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise error(f"{path}: {what} is not valid YAML: {exc}") from None
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        lines = [f"{path}: {exc.error_count()} error(s) in {what}"]
        for problem in exc.errors():
            where = field_path(raw, problem["loc"]) or "(top level)"
            lines.append(f"  {where}: {redact_text(problem['msg'])}")
        raise error("\n".join(lines)) from None


def field_path(raw: Any, loc: tuple[int | str, ...]) -> str:
    """Turn pydantic's ('halls', 0, 'cameras', 1, 'url') into `halls[cc-nanguan].cameras[cam2].url`,
    naming list items by their id where they have one."""
    out = ""
    node = raw
    for part in loc:
        if isinstance(part, int):
            item = node[part] if isinstance(node, list) and part < len(node) else None
            label = item.get("id") if isinstance(item, dict) and isinstance(item.get("id"), str) else part
            out += f"[{label}]"
            node = item
        else:
            out += f".{part}" if out else str(part)
            node = node.get(part) if isinstance(node, dict) else None
    return out
