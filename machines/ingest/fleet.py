"""Which machine each row belongs to: names looked up once per file, created on first sight
when the mapping allows it, then matched to ids with one vectorised `index_in` per batch."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from machines.ingest.parse import Rejection
from machines.models import Machine, MachineType
from machines.services import machine_create
from pdm_saas.errors import PaymentRequired

NAME_MAX = Machine._meta.get_field("name").max_length or 120


class MachineResolver:
    def __init__(self, *, machine_type: MachineType, create_unknown: bool) -> None:
        self.machine_type = machine_type
        self.create_unknown = create_unknown
        self.ids: dict[str, int] = {}
        self.refused: dict[str, str] = {}  # name -> why its rows are rejected
        # Names a plan limit refused (a subset of `refused`), and the refusal's details (the
        # limit, the way up): the upload reports them apart, loudly, not as one more bad row.
        self.over_plan: set[str] = set()
        self.plan_refusal: dict[str, object] | None = None
        self.created: list[str] = []
        self._names = pa.array([], pa.string())
        self._ids = pa.array([], pa.int64())

    def resolve_column(self, raw: pa.Array) -> tuple[pa.Array, list[Rejection]]:
        """Machine ids (int64, null where refused) for a column of machine names."""
        text = raw if pa.types.is_string(raw.type) else pc.cast(raw, pa.string())
        names = pc.utf8_trim_whitespace(text)
        fresh = [name for name in pc.unique(names.drop_null()).to_pylist()
                 if name not in self.ids and name not in self.refused]
        if fresh:
            self._learn(fresh)
        ids = pc.take(self._ids, pc.index_in(names, value_set=self._names))
        missing = np.asarray(pc.is_null(names).to_numpy(zero_copy_only=False), dtype=bool)
        refused = np.asarray(pc.is_null(ids).to_numpy(zero_copy_only=False), dtype=bool) & ~missing
        over_plan = refused & np.asarray(pc.is_in(names, value_set=pa.array(sorted(self.over_plan), pa.string()))
                                         .to_numpy(zero_copy_only=False), dtype=bool)
        return ids, [
            Rejection("missing_machine", missing, lambda index: "no machine name"),
            Rejection("unknown_machine", refused & ~over_plan, lambda index: self.refused[names[index].as_py()]),
            Rejection("plan_limit", over_plan, lambda index: self.refused[names[index].as_py()]),
        ]

    def resolve_one(self, name: str, rows: int) -> tuple[pa.Array, list[Rejection]]:
        """A single-machine file: every row is `name`'s."""
        name = name.strip()
        if name not in self.ids and name not in self.refused:
            self._learn([name])
        if name in self.ids:
            return pa.array(np.full(rows, self.ids[name], dtype=np.int64)), []
        reason = self.refused[name]
        code = "plan_limit" if name in self.over_plan else "unknown_machine"
        return pa.nulls(rows, pa.int64()), [Rejection(code, np.ones(rows, dtype=bool), lambda index: reason)]

    def _learn(self, names: list[str]) -> None:
        known = Machine.objects.filter(name__in=names).select_related("machine_type")
        for machine in known:
            if machine.machine_type_id == self.machine_type.id:
                self.ids[machine.name] = machine.id
            else:
                self.refused[machine.name] = (f"machine '{machine.name}' is a {machine.machine_type.key}, "
                                              f"not a {self.machine_type.key}")
        for name in names:
            if name in self.ids or name in self.refused:
                continue
            if not name or len(name) > NAME_MAX:
                self.refused[name] = f"machine name {name!r} is empty or longer than {NAME_MAX} characters"
            elif self.create_unknown:
                self._create(name)
            else:
                self.refused[name] = f"unknown machine '{name}' (creating unknown machines is off)"
        self._names = pa.array(list(self.ids), pa.string())
        self._ids = pa.array(list(self.ids.values()), pa.int64())

    def _create(self, name: str) -> None:
        """A machine over the plan's limit is not created: its rows are rejected with the reason
        (`plan_limit`), the rest of the file is stored, and the upload says so loudly."""
        try:
            self.ids[name] = machine_create(machine_type_id=self.machine_type.id, name=name).id
        except PaymentRequired as exc:
            self.refused[name] = f"machine '{name}' not created: {exc.message}"
            self.over_plan.add(name)
            self.plan_refusal = {"message": exc.message, **exc.details}
            return
        self.created.append(name)
