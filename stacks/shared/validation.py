"""Config models and the loader that turns raw stack config into one validated model.

Every lab's config is a tree of :class:`LabModel` subclasses. Field-level rules live in the
types (``stacks.shared.types``); rules that relate several fields are methods marked ``@check`` that
yield :class:`~stacks.shared.errors.Problem` entries. :func:`validate_config` runs both kinds and
reports every problem at once in a :class:`~stacks.shared.errors.ConfigError`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from types import UnionType
from typing import Annotated, Any, ClassVar, TypeVar, cast, get_args, get_origin

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError, model_validator
from pydantic.alias_generators import to_camel

from stacks.shared.errors import ConfigError, Problem, Problems

M = TypeVar("M", bound="LabModel")
CheckFn = Callable[[Any], Iterable[Problem]]


def check(fn: CheckFn) -> CheckFn:
    """Mark a method of a :class:`LabModel` as a cross-field rule yielding problems."""
    fn.__cloudlabs_check__ = True  # type: ignore[attr-defined]
    return fn


class LabModel(BaseModel):
    """Base of every config model: camelCase keys, unknown keys rejected, immutable."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        alias_generator=to_camel,
        populate_by_name=True,
    )
    _checks: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._checks = tuple(
            name
            for name in dir(cls)
            if getattr(getattr(cls, name, None), "__cloudlabs_check__", False)
        )

    def problems(self) -> Iterator[Problem]:
        """Every cross-field problem of this model (its sub-models check themselves)."""
        for name in self._checks:
            yield from getattr(self, name)()

    def partial_problems(self) -> Iterator[Problem]:
        """Like :meth:`problems`, skipping rules whose inputs did not validate."""
        for name in self._checks:
            try:
                found = list(getattr(self, name)())
            except (AttributeError, TypeError, KeyError):
                continue
            yield from found

    @model_validator(mode="after")
    def _run_checks(self) -> LabModel:
        found = list(self.problems())
        if found:
            raise Problems(found)
        return self


def _from_pydantic(error: Mapping[str, Any]) -> list[Problem]:
    loc = tuple(error.get("loc", ()))
    cause = (error.get("ctx") or {}).get("error")
    if isinstance(cause, Problems):
        return [p.at(*loc) for p in cause.problems]
    message = str(error.get("msg", "invalid value"))
    message = message.removeprefix("Value error, ")
    kind = error.get("type")
    if kind == "extra_forbidden":
        return [Problem(loc, "unknown key (not part of this lab's config)", error.get("input"))]
    if kind == "missing":
        return [Problem(loc, "required key is missing")]
    return [Problem(loc, message, error.get("input"))]


def _optional(annotation: Any) -> Any:
    """``X`` for ``X | None``, else ``annotation`` itself."""
    args = get_args(annotation)
    if isinstance(annotation, UnionType) and len(args) == 2 and type(None) in args:
        return next(a for a in args if a is not type(None))
    return annotation


def _list_item_model(annotation: Any) -> type[LabModel] | None:
    """The model of the items of ``list[Model]``, None for any other annotation."""
    if get_origin(annotation) is not list:
        return None
    (item,) = get_args(annotation) or (None,)
    return item if isinstance(item, type) and issubclass(item, LabModel) else None


def _partial(
    model: type[M],
    raw: Mapping[str, Any],
    problems: list[Problem],
    prefix: tuple[str | int, ...],
    built: list[tuple[tuple[str | int, ...], LabModel]],
) -> M:
    """A model holding only the fields of ``raw`` that validate on their own.

    Sub-models that failed (alone or as items of a list) are rebuilt the same way,
    recursively; fields that did not validate
    are left unset, so a rule reading them raises AttributeError and is skipped. Every model
    built here is appended to ``built`` with its path, for its rules to run.
    """
    depth = len(prefix)
    failed = {p.path[depth] for p in problems if len(p.path) > depth and p.path[:depth] == prefix}
    values: dict[str, Any] = {}
    unset: list[str] = []
    for name, info in model.model_fields.items():
        key = info.alias or name
        if key not in raw and name not in raw:
            if info.is_required():
                unset.append(name)
            else:
                values[name] = info.get_default(call_default_factory=True)
            continue
        value = raw[key] if key in raw else raw[name]
        annotation: Any = info.annotation
        if key in failed or name in failed:
            annotation = _optional(annotation)
            nested = isinstance(annotation, type) and issubclass(annotation, LabModel)
            if nested and isinstance(value, Mapping):
                values[name] = _partial(annotation, value, problems, (*prefix, key), built)
                continue
            item = _list_item_model(annotation)
            if item is not None and isinstance(value, list):
                values[name] = [
                    _partial(item, entry, problems, (*prefix, key, i), built)
                    if isinstance(entry, Mapping)
                    else entry
                    for i, entry in enumerate(value)
                ]
                continue
            unset.append(name)
            continue
        if info.metadata:
            annotation = Annotated[annotation, *info.metadata]
        try:
            values[name] = TypeAdapter(annotation).validate_python(value)
        except ValidationError:
            unset.append(name)
    obj = cast(M, model.model_construct(**values))
    for name in unset:
        obj.__dict__.pop(name, None)
    built.append((prefix, obj))
    return obj


def validate_config(lab: str, model: type[M], raw: Mapping[str, Any]) -> M:
    """Validate ``raw`` against ``model``; raise one ConfigError listing every problem."""
    try:
        return model.model_validate(dict(raw))
    except ValidationError as exc:
        problems: list[Problem] = []
        for error in exc.errors():
            problems.extend(_from_pydantic(error))
    # Cross-field rules of the models holding a failed field did not run: run them on the
    # fields that did validate, so the user sees every problem in one go.
    built: list[tuple[tuple[str | int, ...], LabModel]] = []
    _partial(model, raw, list(problems), (), built)
    for prefix, partial in built:
        problems.extend(
            p.at(*prefix) for p in partial.partial_problems() if p.at(*prefix) not in problems
        )
    raise ConfigError(lab, problems)
