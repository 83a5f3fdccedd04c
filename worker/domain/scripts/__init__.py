"""The Redis scripts (`worker/domain/lua/`) and the typed contract Python calls them through.

    runner.py    loading and calling scripts: `Scripts` (one per Redis client), `PackedScript`
                 (begin, settle and enqueue, packed straight into the Redis protocol)
    contract.py  an input dataclass per script, its fields named and ordered as the script's
                 header lists its KEYS and ARGV; `call_of` makes the two lists
    begin.py     begin.lua's input and its verdicts (`Go`, `Wait`, `Busy`, ...)
    settle.py    settle.lua's input, built from a `Settlement` (what the service decided)
    queueing.py  enqueue, deliver, move_due, release, release_held, release_app, resume and
                 trim_dlq: inputs and replies
    cancel.py    cancel.lua's input (one group per job) and its reply, one word per job
"""

from worker.domain.scripts.runner import PackedScript, Scripts

__all__ = ["PackedScript", "Scripts"]
