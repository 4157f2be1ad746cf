"""Finding the answer's callable and calling it as the reference is called, whatever the candidate named things.

Candidates write `find_kth_largest(nums, k)`, `lis(arr)` or `train(model, dataloader, criterion, optimizer,
device, num_epochs, max_norm)` for a task whose rubric says `kth_largest` or `train(model, dataloader,
optimizer, criterion, ...)`. A correct answer must not score 0 for that, and a wrong guess must not score
either: the callable is the declared name, else a declared alias, else the one public top-level function
(or class) whose parameters fit the reference's; anything else is left to a person, with the candidates.
"""

from __future__ import annotations

import inspect
import sys
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

FILLS = ("device",)
"""Parameters a candidate may add whose value is obvious: the device the inputs live on."""
SHOWN = 20
"""Candidates named in a needs_review reason at most (an answer may define thousands)."""


@dataclass(frozen=True)
class Param:
    """One parameter of the reference, with the other names candidates give it."""

    name: str
    names: tuple[str, ...] = ()
    optional: bool = False
    """Sent only by some calls (eps, max_norm, causal); a candidate without it is called without it
    when the value is the reference's default."""
    default: Any = None

    def known(self, name: str) -> bool:
        """Whether a candidate's parameter name means this one (case does not matter)."""
        return name.lower() in {self.name.lower(), *(n.lower() for n in self.names)}


@dataclass(frozen=True)
class Contract:
    """What the task calls: the reference's parameters in order, and for a class the methods it calls."""

    params: tuple[Param, ...]
    methods: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Method the task calls → other names candidates give it (a class task: union → unite, merge…)."""


@dataclass(frozen=True)
class Plan:
    """How one candidate callable is called with the reference's arguments."""

    keyword: bool
    """By parameter name (so any order works); else by position, in the reference's order."""
    slots: tuple[str | int, ...]
    """Per reference parameter: the candidate's parameter name (keyword) or position."""
    fills: tuple[str, ...] = ()
    methods: tuple[tuple[str, str], ...] = ()
    """(the task's method name, the candidate's) where they differ."""
    unsure: tuple[str, ...] = ()
    """Optional parameters of the reference without a namesake in the candidate's: passed only when not the
    reference's default (to the candidate's parameter at the same position, else under the reference's name,
    which fails the call with a TypeError that names it)."""
    direct: bool = False
    """The candidate takes the call exactly as the reference does: no wrapper, nothing added to its time."""

    def describe(self) -> str:
        """Say in words how the call is made."""
        words = ["keyword arguments" if self.keyword else "positional arguments in the reference's order"]
        words += [f"{name} filled" for name in self.fills]
        words += [f"{theirs}() for {ours}()" for ours, theirs in self.methods]
        return ", ".join(words)


class Undecided(LookupError):
    """No callable, or several, could be the answer: a person decides (status needs_review)."""

    def __init__(self, reason: str, candidates: list[str]):
        self.candidates = candidates
        super().__init__(reason)


@dataclass(frozen=True)
class Resolved:
    """The callable an answer is called through, and how it was found."""

    name: str
    found_by: str
    plan: Plan
    call: Callable[..., Any]

    def describe(self) -> str:
        return f"{self.name} ({self.found_by}; {self.plan.describe()})"


def _signature(obj: Any) -> inspect.Signature | None:
    try:
        return inspect.signature(obj)
    except (TypeError, ValueError):
        return None


def _methods(cls: type, contract: Contract) -> tuple[tuple[str, str], ...] | str:
    """Map the task's methods onto the class's; a message when one is missing."""
    mapping = []
    for ours, others in contract.methods.items():
        theirs = next((n for n in (ours, *others) if callable(getattr(cls, n, None))), None)
        if theirs is None:
            return f"no {ours}() method"
        if theirs != ours:
            mapping.append((ours, theirs))
    return tuple(mapping)


def plan(obj: Any, contract: Contract) -> Plan | str:
    """How to call `obj` as the reference is called; a message saying why it does not fit otherwise.

    By name when every required parameter of the reference has a namesake (so any order works), else by
    position in the reference's order. Either way a parameter the task cannot give (`device` aside, and
    those with defaults) means it does not fit.
    """
    methods: tuple[tuple[str, str], ...] = ()
    if contract.methods:
        if not isinstance(obj, type):
            return "not a class"
        found = _methods(obj, contract)
        if isinstance(found, str):
            return found
        methods = found
    required = [r for r in contract.params if not r.optional]
    optional = [r for r in contract.params if r.optional]
    signature = _signature(obj)
    if signature is None:  # a builtin or C type: nothing to read, call it as the reference is called
        slots = (*range(len(required)), *(r.name for r in optional))
        return Plan(False, slots, methods=methods, direct=not methods)
    given = list(signature.parameters.values())
    named = [p for p in given if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    positional = [p for p in named if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    by_name: dict[str, str] = {}
    for ref in contract.params:
        match = next(
            (
                p.name
                for p in named
                if p.kind is not p.POSITIONAL_ONLY and ref.known(p.name) and p.name not in by_name.values()
            ),
            None,
        )
        if match is not None:
            by_name[ref.name] = match
    fills = tuple(p.name for p in named if p.name in FILLS and p.name not in by_name.values())
    defaulted = {p.name for p in named if p.default is not p.empty}

    def unmet(taken: set[str]) -> list[str]:
        return [p.name for p in named if p.default is p.empty and p.name not in taken | set(fills)]

    if all(r.name in by_name for r in required) and not unmet(set(by_name.values())):
        unsure = tuple(r.name for r in optional if r.name not in by_name)
        for index, ref in enumerate(contract.params):
            if ref.name in unsure and index < len(positional):
                slot = positional[index]
                free = slot.name not in by_name.values() and slot.name not in FILLS
                if free and slot.kind is not slot.POSITIONAL_ONLY:
                    by_name[ref.name] = slot.name
        direct = (
            not (fills or methods or unsure)
            and all(i < len(positional) and positional[i].name == by_name[r.name] for i, r in enumerate(required))
            and all(by_name[r.name] == r.name and r.name in defaulted for r in optional)
        )
        slots = tuple(by_name.get(r.name, r.name) for r in contract.params)
        return Plan(True, slots, fills, methods, unsure, direct)
    if len(positional) < len(required) and not any(p.kind is p.VAR_POSITIONAL for p in given):
        return f"takes {len(positional)} positional parameter(s), the task passes {len(required)}"
    taken = {p.name for p in positional[: len(required)]}
    slot_list: list[str | int] = list(range(len(required)))
    unsure_list: list[str] = []
    for index, ref in enumerate(contract.params):
        if not ref.optional:
            continue
        name = next((p.name for p in named if p.name not in taken and ref.known(p.name)), None)
        if name is None:
            unsure_list.append(ref.name)
            if index < len(positional) and positional[index].name not in taken | set(FILLS):
                name = positional[index].name
        slot_list.append(name or ref.name)
        taken.add(name or ref.name)
    if unmet(taken):
        return f"needs {', '.join(unmet(taken))}, which the task does not pass"
    direct = not (fills or methods or unsure_list) and all(
        s == r.name and s in defaulted for s, r in zip(slot_list[len(required) :], optional, strict=True)
    )
    return Plan(False, tuple(slot_list), fills, methods, tuple(unsure_list), direct)


def bind(obj: Any, contract: Contract, plan_: Plan, device: str) -> Callable[..., Any]:
    """Return a callable taking the reference's arguments that calls `obj` as the plan says.

    An optional argument the call leaves out gets the reference's default (the answer's own default may
    differ); one the answer has no parameter for is left out when it is the reference's default.
    """
    if plan_.methods:
        obj = type(obj.__name__, (obj,), {ours: getattr(obj, theirs) for ours, theirs in plan_.methods})
    if plan_.direct:
        return obj
    names = [p.name for p in contract.params]
    defaults = {p.name: p.default for p in contract.params if p.optional}

    def call(*args: Any, **kwargs: Any) -> Any:
        values = defaults | dict(zip(names, args, strict=False)) | kwargs
        positional: list[Any] = []
        keywords: dict[str, Any] = dict.fromkeys(plan_.fills, device_value(device)) if plan_.fills else {}
        for ref, slot in zip(names, plan_.slots, strict=True):
            if ref in plan_.unsure and values[ref] == defaults[ref]:
                continue
            if isinstance(slot, int):
                positional.append(values[ref])
            else:
                keywords[slot] = values[ref]
        return obj(*positional, **keywords)

    return call


def device_value(device: str) -> Any:
    """The device handed to an answer's `device` parameter: a `torch.device` where torch is loaded (answers
    write `device.type`; it works wherever the string does), else the string itself.
    """
    torch = sys.modules.get("torch")
    return torch.device(device) if torch is not None else device


def _public(namespace: Mapping[str, Any], module: str, want_class: bool) -> list[tuple[str, Any]]:
    """Top-level functions (or classes) the answer itself defines, not imported ones, not _private."""
    return [
        (name, value)
        for name, value in namespace.items()
        if not name.startswith("_")
        and (isinstance(value, type) if want_class else isinstance(value, types.FunctionType))
        and getattr(value, "__module__", None) == module
    ]


def _solution_methods(namespace: Mapping[str, Any], module: str) -> list[tuple[str, Any]]:
    """Public methods of the answer's classes that need no constructor argument, bound to an instance.

    The LeetCode form: `class Solution: def findKthLargest(self, nums, k)`. Considered only when no
    top-level function fits.
    """
    methods = []
    for name, cls in _public(namespace, module, want_class=True):
        signature = _signature(cls)
        if signature is None or any(
            p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
            for p in signature.parameters.values()
        ):
            continue
        try:
            instance = cls()
        except Exception:  # noqa: BLE001 - a class that cannot be made is no candidate
            continue
        methods += [
            (f"{name}().{attr}", getattr(instance, attr))
            for attr, value in vars(cls).items()
            if not attr.startswith("_") and isinstance(value, types.FunctionType)
        ]
    return methods


def _names_used(value: Any) -> set[str]:
    """Global names a function's (or a class's methods') code refers to, nested code included."""
    value = getattr(value, "__func__", value)
    codes = (
        [value.__code__]
        if isinstance(value, types.FunctionType)
        else [v.__code__ for v in vars(value).values() if isinstance(v, types.FunctionType)]
    )
    names: set[str] = set()
    while codes:
        code = codes.pop()
        names.update(code.co_names)
        codes += [c for c in code.co_consts if isinstance(c, types.CodeType)]
    return names


def _shown(name: str, value: Any) -> str:
    signature = _signature(value)
    return f"{name}{signature}" if signature is not None else name


def resolve(
    namespace: Mapping[str, Any],
    module: str,
    entrypoint: str,
    aliases: tuple[str, ...],
    contract: Contract,
    device: str = "cpu",
) -> Resolved:
    """Find the answer's callable: declared name, else an alias, else the one public callable that fits.

    Several that fit are narrowed to those no other one calls (a helper such as `quickselect` under
    `find_kth_largest`); Undecided when that leaves none or more than one.
    """
    for name, found_by in ((entrypoint, "declared name"), *((a, "alias") for a in aliases)):
        value = namespace.get(name)
        if callable(value):
            fitted = plan(value, contract)
            if isinstance(fitted, str):  # the declared contract: call it as the reference is called
                fitted = Plan(False, tuple(range(len(contract.params))), direct=True)
            return Resolved(name, found_by, fitted, bind(value, contract, fitted, device))
    public = _public(namespace, module, want_class=bool(contract.methods))
    fits = {name: (value, p) for name, value in public if not isinstance(p := plan(value, contract), str)}
    if not fits and not contract.methods:
        public += _solution_methods(namespace, module)
        fits = {name: (value, p) for name, value in public if not isinstance(p := plan(value, contract), str)}
    if len(fits) > 1:
        called = set().union(*(_names_used(v) - {n.rpartition(".")[2]} for n, (v, _) in fits.items()))
        fits = {n: f for n, f in fits.items() if n.rpartition(".")[2] not in called} or fits
    wanted = f"`{entrypoint}`" + (f" (or {', '.join(f'`{a}`' for a in aliases)})" if aliases else "")
    if len(fits) == 1:
        ((name, (value, fitted)),) = fits.items()
        return Resolved(name, "signature", fitted, bind(value, contract, fitted, device))
    if fits:
        shown = [_shown(n, v) for n, (v, _) in fits.items()][:SHOWN]
        raise Undecided(
            f"the answer defines no {wanted}, and {len(fits)} callables fit the task's parameters: {'; '.join(shown)}",
            shown,
        )
    shown = [_shown(n, v) for n, v in public][:SHOWN]
    if not shown:
        kind = "class" if contract.methods else "function"
        raise LookupError(f"the answer defines no {wanted} and no public top-level {kind} at all")
    raise Undecided(
        f"the answer defines no {wanted}, and none of its callables fits the task's parameters "
        f"({', '.join(p.name for p in contract.params)}): {'; '.join(shown)}",
        shown,
    )
