"""Confirm-mode recipe for KC004 tensor-outside-graph (see the rule's docs, "Confirm mode").

The parent side (no TensorFlow) finds which code to run and where the flagged op is, through the
file's source index; `confirm()` runs in the child with TensorFlow: it runs the slice with the
flagged op instrumented and matches what the op raises against the error the finding cites.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from typing import Any

from kerascheck.confirm.instrument import (
    DEFER,
    DEFER_OP,
    TARGET,
    TARGET_OP,
    Done,
    fill,
    instrument,
    is_kt,
    leaves,
    stand_in,
)
from kerascheck.confirm.probe import fatal
from kerascheck.confirm.slice import Slicer, free_names
from kerascheck.confirm.target import sets_legacy_env
from kerascheck.confirm.source_index import (
    SourceIndex,
    ast_key,
    entry,
    isolable,
    module_statements,
    overlay,
)
from kerascheck.rule import Context, Hit, cst
from kerascheck.rules.kc004_tensor_outside_graph import (
    ARITHMETIC,
    K2_MODEL,
    K2_MODEL_K3,
    M1,
    M2,
    M3,
    M6,
    MAX_LABEL,
    check,
    first,
    guarded,
    legacy,
    skip_site,
    tf_error,
    usable,
    value_lib,
)

KNOWN = {"M1": M1, "M2": M2, "M3": M3, "M6": M6, "K2_MODEL": K2_MODEL, "K2_MODEL_K3": K2_MODEL_K3}


def _deferrable(pic) -> Iterator[tuple[cst.CSTNode, str]]:
    """TF / NumPy calls and NumPy-left operators outside `call()`: if one of them raises on a
    KerasTensor before the flagged op runs, the child runs it as a Lambda layer (what M1
    advises). Not only calls on known KerasTensors: the picture does not follow every result
    (`K.softmax(K.batch_dot(q, k))`), and a call that works is simply run as it is."""
    for event in pic.calls:
        canon = event.canon
        if event.site.in_call:
            continue
        if (canon.flavor is None and canon.name.startswith(("tensorflow.", "numpy."))) or \
                (canon.flavor == "tf.keras" and canon.name.startswith("keras.backend.")):
            yield event.node, "call"
    for event in pic.binops:
        left = event.left
        if not event.site.in_call and left.kind == "const" and left.lib == "numpy" and event.right.kt:
            yield event.node, "binop"


def _job(ctx: Context, src: SourceIndex, node: cst.CSTNode, kind: str, expect: str | None, legacy_tf: bool,
         src_node: cst.CSTNode | None = None) -> dict | str:
    """The job for the op at `node`: the slice, how to enter it, and where the op is."""
    pic, text = ctx.picture, ctx.text
    pos = src.positions
    where = pos.get(node)
    target = src.find(where, kind) if where is not None else None
    if target is None:
        return "the flagged op was not found in the file's syntax tree"
    reach = entry(src, target.lineno, target.col_offset)
    if isinstance(reach, str):
        return reach
    how, what, synthesised = reach
    slicer = Slicer(pic, text)
    slicer.synthesised.extend(synthesised)
    statements, via = [], None
    if how == "module":
        got = module_statements(src, what)
        if isinstance(got, str):
            return got
        statements, needed = got
        slicer.need(*needed)
        made = pos[src_node].start.line if src_node is not None and pos.get(src_node) is not None else None
        if made is not None and src.top_index(made) is not None:  # where the KerasTensor was made
            body = src.tree.body
            owner = body[src.top_index(made)]
            kept = any(s.lineno <= made <= (s.end_lineno or s.lineno) for s in statements)
            if made < statements[-1].lineno and isolable(owner) and not kept:
                return (f"the KerasTensor made at line {made} does not reach the flagged op through "
                        "names confirm mode can follow")
        entry_src = None
        if not statements[-1].lineno <= target.lineno <= (statements[-1].end_lineno or 0):
            via = f"the module-level statement at line {statements[-1].lineno}"
    else:
        entry_src = via = what
        slicer.need(*free_names(what))
    defer = []
    seen = {id(node)}
    for other, other_kind in _deferrable(pic):
        if id(other) in seen:
            continue
        seen.add(id(other))
        at = pos.get(other)
        found = src.find(at, other_kind) if at is not None else None
        if found is not None and found is not target:
            defer.append({"pos": ast_key(found), "kind": other_kind})
    op = " ".join((ast.get_source_segment(text, target) or "").split())
    op = op if len(op) <= MAX_LABEL else op[: MAX_LABEL - 3] + "..."
    version = ({"keras": "2", "keras_why": "the file sets TF_USE_LEGACY_KERAS" if _legacy_tf(text)
                else "the code runs on legacy Keras"} if legacy_tf else {"keras": "3"})
    if legacy_tf and getattr(ctx.facts, "keras", "3") == "2":
        version["keras_alias"] = True
    job = slicer.job(target={"pos": ast_key(target), "kind": kind, "op": op},
                     defer=defer, entry=entry_src, via=via, expect=expect, line=target.lineno, **version)
    if statements:
        job["slice"] = overlay(job["slice"], src, statements)
    return job


def _legacy_tf(text: str) -> bool:
    """`tf.keras` is Keras 2 in this file (TF_USE_LEGACY_KERAS set before TensorFlow is imported)."""
    return sets_legacy_env(text)


def job(hit: Hit, ctx: Context, src: SourceIndex) -> dict | str | None:
    expect = next((name for name, msg in KNOWN.items() if hit.fmt.get("error") == msg), None)
    if expect is None:
        return None
    kind = "binop" if isinstance(hit.node, cst.BinaryOperation) else "call"
    flavors = {c.flavor for c in ctx.imported() if c.flavor is not None}
    # A legacy-Keras finding runs in the Keras 2 child: in a project whose target is Keras 2 (its pins,
    # = true`), where `tf.keras` is tf_keras too, and in a file that uses tf_keras alone. A file
    # that also imports Keras 3 (a tf_keras Model given a Keras 3 tensor) needs the Keras 3 child.
    legacy_tf = _legacy_tf(ctx.text) or (hit.fmt.get("lib") == "legacy Keras" and (
        "tf_keras" not in flavors or flavors <= {"tf_keras", "tf.python.keras"}))
    made = hit.related.get("src")  # (node, label)
    return _job(ctx, src, hit.node, kind, expect, legacy_tf, made[0] if isinstance(made, tuple) else made)


def lookalikes(ctx: Context, src: SourceIndex) -> Iterator[dict]:
    """Clean code the rule leaves alone, next to the flagged code: each must run without error.

    `keras.ops.*` on KerasTensors; a TF op whose operand is a TF constant; a KerasTensor on the
    left of an operator with a NumPy or TF value, and a TF tensor on the left (F4.3);
    `Model(inputs=<an intermediate layer output>)` (F4.6); and in legacy-Keras files the TF ops
    and NumPy-left operators on tf_keras KerasTensors (F4.8, kc004_extra D). Code under a version
    guard or in a `try`, inside `call()`/Lambda functions, or unreachable without runtime data is
    skipped.
    """
    pic = ctx.picture
    flagged = {id(h.node) for h in check(ctx)}
    legacy_tf = _legacy_tf(ctx.text)
    is_legacy = legacy(ctx.facts)
    seen: set[int] = set()

    def ok_site(event, value=None) -> bool:
        if id(event.node) in flagged or id(event.node) in seen or skip_site(ctx, event.site):
            return False
        if guarded(ctx, event.node, tf_only=False) or guarded(ctx, event.node, tf_only=True):
            return False
        return value is None or usable(ctx, event.site, value)

    candidates: list[tuple[cst.CSTNode, str]] = []
    for event in pic.calls:
        canon = event.canon
        value = event.symbolic[0] if event.symbolic else None
        if canon.flavor is not None and canon.name.startswith("keras.ops.") and value is not None:
            ok = ok_site(event, value)
        elif canon.flavor is None and tf_error(canon.name, None) is not None:
            if value is None:  # a TF op on a TF constant
                ok = any(v.kind == "const" and v.lib == "tf" for v in event.operands()) and ok_site(event)
            else:  # a TF op on a legacy KerasTensor: wrapped into a TFOpLambda layer
                ok = is_legacy and (value_lib(ctx.facts, value) or "k2") == "k2" and ok_site(event, value)
        else:
            ok = False
        if ok:
            seen.add(id(event.node))
            candidates.append((event.node, "call"))
    for event in pic.binops:
        left, right = event.left, event.right
        if not isinstance(event.node.operator, ARITHMETIC):
            continue
        if left.kt and right.kind == "const" and right.lib in ("numpy", "tf"):
            ok = ok_site(event, left)
        elif right.kt and left.kind == "const" and left.lib == "tf":
            ok = ok_site(event, right)
        elif right.kt and left.kind == "const" and left.lib == "numpy":
            ok = value_lib(ctx.facts, right) == "k2" and ok_site(event, right)
        else:
            ok = False
        if ok:
            seen.add(id(event.node))
            candidates.append((event.node, "binop"))
    for event in pic.models:
        if event.inputs is None or event.inputs.kind == "union":
            continue
        items = event.inputs.items if event.inputs.kind == "seq" else (event.inputs,)
        if items and all(v.kt for v in items) and any(first(v).app is not None for v in items) and ok_site(event):
            seen.add(id(event.node))
            candidates.append((event.node, "call"))
    pos = src.positions

    def inside(node, others) -> bool:  # nested in a flagged op or in another look-alike
        at = pos.get(node)
        return at is not None and any(
            o is not node and (at.start.line, at.start.column) >= (w.start.line, w.start.column)
            and (at.end.line, at.end.column) <= (w.end.line, w.end.column)
            for o in others for w in [pos.get(o)] if w is not None)

    import importlib.util

    has_tf_keras = importlib.util.find_spec("tf_keras") is not None  # found, not imported
    outer = [h.node for h in check(ctx)] + [n for n, _ in candidates]
    for node, kind in candidates:
        if inside(node, outer):
            continue
        made = _job(ctx, src, node, kind, None, legacy_tf)
        if isinstance(made, dict) and (has_tf_keras or not (legacy_tf or "tf_keras" in made["slice"])):
            yield made


def _pattern(sentence: str):
    """A regex for a cited first sentence; `KerasTensor(...)` stands for the tensor's repr."""
    body = re.escape(sentence).replace(re.escape("KerasTensor(...)"), r"KerasTensor\(.*?\)")
    return re.compile(re.sub(r"(\\ )+", r"\\s+", body), re.DOTALL)


def _expected(name: str) -> tuple[str, str]:
    kind, _, sentence = KNOWN[name].partition(": ")
    return kind, sentence.strip('"')


def confirm(job: dict, probe) -> object:
    import ast
    import operator

    from kerascheck.confirm import CouldNotBuild
    from kerascheck.confirm.probe import describe, one_line, strip_ansi, where

    path = job.get("path", "<slice>")
    line, op = job["line"], job["target"].get("op") or "the flagged op"
    tree = ast.parse(job["slice"], path)
    if not instrument(tree, job):
        raise CouldNotBuild(f"the flagged op (line {line}) is not in the slice")
    state: dict[str, Any] = {"deferred": 0, "stand_ins": 0}

    def run_target(fn, *args, **kwargs):
        state["reached"] = True
        tensors: list = []
        leaves((args, kwargs), tensors)
        state["symbolic"] = bool(tensors)
        try:
            state["result"] = fn(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - what the op raises is the measurement
            fatal(exc)
            state["error"] = exc
        raise Done

    def run_deferred(fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001
            tensors: list = []
            nest = leaves((args, kwargs), tensors)
            if not tensors:
                raise
            library = probe.keras_for(tensors[0])
            try:
                if fn is probe.tf.shape and len(tensors) == 1 and hasattr(library, "ops"):
                    out = library.ops.shape(tensors[0])  # its Keras 3 form, usable in slices
                else:
                    def body(ts):
                        a, kw = fill(nest, ts if isinstance(ts, (list, tuple)) else [ts])
                        return fn(*a, **kw)

                    out = library.layers.Lambda(body)(tensors if len(tensors) > 1 else tensors[0])
            except Exception:  # noqa: BLE001 - not even as a layer: a stand-in of its output shape
                out = stand_in(probe, lambda *a, **kw: fn(*a, **kw), nest, tensors)
                if out is None:  # the op blocks the way: report its own error
                    raise exc from None
                state["stand_ins"] += 1
                return out
            state["deferred"] += 1
            return out

    def target_op(name, left, right):
        return run_target(getattr(operator, name), left, right)

    def deferred_op(name, left, right):
        try:
            return getattr(operator, name)(left, right)
        except Exception:  # noqa: BLE001 - a NumPy value on the left: let the KerasTensor apply it
            if is_kt(right) and hasattr(right, f"__r{name.rstrip('_')}__"):
                out = getattr(right, f"__r{name.rstrip('_')}__")(left)
                if out is not NotImplemented:
                    state["deferred"] += 1
                    return out
            tensors: list = []
            nest = leaves(((left, right), {}), tensors)
            out = stand_in(probe, getattr(operator, name), nest, tensors) if tensors else None
            if out is None:
                raise
            state["stand_ins"] += 1
            return out

    ns: dict[str, Any] = {"__name__": "__kerascheck_slice__", "__file__": f"{probe.workdir}/slice.py",
                          "__builtins__": probe.builtins(job), TARGET: run_target, DEFER: run_deferred,
                          TARGET_OP: target_op, DEFER_OP: deferred_op}
    code = compile(tree, path, "exec")
    try:
        exec(code, ns)  # noqa: S102 - confirm mode runs the model-building slice on request
        if job.get("entry"):
            eval(compile(job["entry"], path, "eval"), ns)  # noqa: S307
    except Done:
        pass
    except ImportError as exc:
        raise CouldNotBuild(f"missing dependency: {one_line(str(exc))}{where(exc, path)}") from None
    except NameError as exc:
        raise CouldNotBuild(probe.name_reason(exc, path)) from None
    except Exception as exc:  # noqa: BLE001
        fatal(exc)
        raise CouldNotBuild(f"{describe(exc, path)}, before the flagged op (line {line}) ran") from None
    if not state.get("reached"):
        via = f" via {job['via']}" if job.get("via") else ""
        raise CouldNotBuild(f"the slice ran{via} without reaching the flagged op (line {line})")
    note = f"; {state['deferred']} earlier TF/NumPy op(s) on KerasTensors ran as Lambda layers" \
        if state["deferred"] else ""
    if state["stand_ins"]:
        note += (f"; {state['stand_ins']} earlier op(s) that raise on KerasTensors even as a Lambda layer "
                 "were replaced by a stand-in of their output shape")
    via = f" via {job['via']}" if job.get("via") else ""
    if "error" not in state:
        what = "on the KerasTensor without error" if state["symbolic"] else \
            "without error (no KerasTensor among its operands)"
        return probe.not_reproduced(f"the op ran {what}: `{op}` (line {line}{via}) returned "
                                    f"{type(state['result']).__name__}{note}")
    exc = state["error"]
    text = strip_ansi(str(exc))
    names = [job["expect"]] if job.get("expect") else list(KNOWN)
    for name in names:
        kind, sentence = _expected(name)
        if type(exc).__name__ == kind and _pattern(sentence).search(text):
            return probe.confirmed(f"`{op}` (line {line}{via}) raised {kind}: {sentence} [{name}]{note}")
    raise CouldNotBuild(f"the flagged op raised another error: {describe(exc, path)}"
                        + (f" (expected {job['expect']})" if job.get("expect") else ""))
