"""Confirm-mode recipe for KC005 dropout-rate-reads-as-keep-prob (see the rule's docs, "Confirm mode").

What is built: the flagged call's own function (`tf.nn.dropout`, however the file spells it, from
the file's slice) and the value its second argument has: the literal; a parameter's default, the
argument of the call that inlined the helper, or a value synthesised from the name (a keep
probability: 0.8, said in the evidence); for `self.keep_prob`, the value `__init__` assigns it,
resolved the same way. The function is called as the code calls it (`fn(x, p)`, positional) on a
(64, 1024) tensor of ones (seed 0), and the share of the 65,536 units it zeroes is measured, with
the scale of the kept ones.

Verdict: `confirmed` when the call drops what its argument reads as (|dropped - p| < 0.02, so p is
the share to drop) while the argument, by its name or its value, reads as a keep probability (a
literal above 0.6, or a name like `keep_prob`), and p is not 0.5 (where both readings drop half).
`not reproduced` otherwise: `tf.compat.v1.nn.dropout(x, 0.8)` drops 20 % (keep_prob, F2.10);
`rate=` written out, `1 - keep_prob`, 0.5 and 0.6 read as rates. Measured on fixtures/kc005: every
positive drops p within 0.003 (0.75 -> 74.9 %, 0.9 -> 90.0 %); the clean look-alikes: compat.v1
with 0.8 drops 19.9 %, the others read as rates.
"""

from __future__ import annotations

from collections.abc import Iterator

from kerascheck.confirm.slice import Slicer, synthesise
from kerascheck.rule import Context, Hit, cst, literal_number
from kerascheck.rules.kc005_dropout_rate_reads_as_keep_prob import (
    THRESHOLD,
    _keep_name,
    _second_positional,
    _tf1,
    check,
)

TOLERANCE = 0.02  # |share dropped - p| below it: the call drops p
SHAPE = (64, 1024)
LOOKALIKE_FUNCTIONS = frozenset({"tensorflow.nn.dropout", "tensorflow.compat.v1.nn.dropout"})


def _argument(node: cst.Call) -> tuple[cst.BaseExpression | None, str]:
    """(the argument holding the rate or keep probability, how it reads: "keep" or "rate")."""
    arg = _second_positional(node)
    if arg is not None:
        value = literal_number(arg)
        keep = _keep_name(arg) or (value is not None and THRESHOLD < value < 1)
        return arg, "keep" if keep else "rate"
    for a in node.args:
        if a.keyword is not None and a.keyword.value in ("rate", "keep_prob"):
            return a.value, "keep" if a.keyword.value == "keep_prob" else "rate"
    return None, "rate"


def _init_value(ctx: Context, cls, attr: str) -> cst.BaseExpression | None:
    """What `__init__` assigns to `self.<attr>`, when it does so once."""
    init = cls.methods.get("__init__") if cls is not None else None
    if init is None:
        return None
    found = []
    for node in ctx.walk(init):
        if isinstance(node, cst.Assign) and len(node.targets) == 1:
            target = node.targets[0].target
            if isinstance(target, cst.Attribute) and isinstance(target.value, cst.Name) \
                    and target.value.value == "self" and target.attr.value == attr:
                found.append(node.value)
    return found[0] if len(found) == 1 else None


def _job(ctx: Context, event) -> dict | str:
    node = event.node
    arg, reads = _argument(node)
    if arg is None:
        return "the call gives no rate or keep probability"
    slicer = Slicer(ctx.picture, ctx.text, ctx)
    function = slicer.expr(node.func)
    value = slicer.expr(arg, event.site)
    for sub in ctx.walk(arg):  # `self.keep_prob`: the value __init__ gives it
        if isinstance(sub, cst.Attribute) and isinstance(sub.value, cst.Name) and sub.value.value == "self":
            given = _init_value(ctx, event.site.cls, sub.attr.value)
            local = f"self_{sub.attr.value}__"
            if given is not None:
                slicer.locals[local] = slicer.expr(given)
            else:  # set elsewhere (a config, a subclass): a value synthesised from its name
                made = synthesise(sub.attr.value)
                if made is None:
                    return f"`self.{sub.attr.value}` is not assigned once in `__init__`"
                slicer.locals[local] = made
                slicer.synthesised.append(f"self.{sub.attr.value}={made}")
            value = value.replace(f"self.{sub.attr.value}", local)
    slicer.names -= {"self"}
    call = " ".join(slicer.source(node).split())
    return slicer.job(function=function, value=value, reads=reads, arg=slicer.source(arg),
                      call=call if len(call) <= 60 else call[:57] + "...", keras="3")


def _event(ctx: Context, node: cst.CSTNode):
    return next((e for e in ctx.picture.calls if e.node is node), None)


def job(hit: Hit, ctx: Context, index=None) -> dict | str | None:
    event = _event(ctx, hit.node)
    return _job(ctx, event) if event is not None else None


def lookalikes(ctx: Context, index=None) -> Iterator[dict]:
    """Clean look-alikes, for the tests: the recipe must say `not reproduced` on each.

    Every `tf.nn.dropout` / `tf.compat.v1.nn.dropout` call with a rate or keep probability in a
    method of a Keras class that the rule leaves alone (`rate=` written out, `1 - keep_prob`, 0.5,
    0.6, compat.v1's real keep_prob), in files that are not TF1 code. Not calls outside Keras
    classes (`tf.nn.dropout(x, 0.8)` that sparsifies data on purpose: the rule is silent for
    its context, and a run would measure 80 % dropped as for a bug) and not TF1 files (there the
    positional argument was keep_prob).
    """
    if _tf1(ctx):
        return
    flagged = {id(h.node) for h in check(ctx)}
    for event in ctx.picture.calls:
        if event.canon.name not in LOOKALIKE_FUNCTIONS or id(event.node) in flagged:
            continue
        if event.site.cls is None or event.site.cls.kind == "constraint":
            continue
        made = _job(ctx, event)
        if isinstance(made, dict):
            yield made


# -- child side (TensorFlow) --------------------------------------------------------------------


def confirm(job: dict, probe) -> object:
    np, tf = probe.np, probe.tf
    ns = probe.namespace(job)
    fn = probe.eval(job["function"], ns)
    p = float(probe.eval(job["value"], ns))
    tf.random.set_seed(0)
    out = np.asarray(fn(tf.ones(SHAPE), p))
    dropped = float(np.mean(out == 0))
    kept = out[out != 0]
    scale = float(kept.mean()) if kept.size else 0.0
    as_rate = abs(dropped - p) < TOLERANCE
    keep = job["reads"] == "keep"
    shown = "" if job["arg"] == f"{p:g}" else f" with {job['arg']} = {p:g}"
    measured = (f"`{job['call']}`{shown} dropped {dropped:.1%} of {SHAPE[0] * SHAPE[1]} units "
                f"(kept ones x{scale:.2f})")
    if keep and as_rate and abs(p - 0.5) >= 0.05:
        return probe.confirmed(f"{measured}: it drops the share its argument gives (|dropped - {p:g}| < "
                               f"{TOLERANCE}), while the argument reads as a keep probability: keep {p:.0%}, "
                               f"where the call keeps {1 - dropped:.0%}")
    if not keep:
        why = f"`{job['arg']}` reads as the rate to drop, and the call drops {'it' if as_rate else 'another share'}"
    elif not as_rate:
        why = f"the call reads {p:g} as the share to keep ({1 - p:.0%} dropped), as the code means"
    else:
        why = f"{p:g} drops half either way"
    return probe.not_reproduced(f"{measured}: {why}")
