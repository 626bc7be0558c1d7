"""Static memory planning: execution order, in-place aliases and arena offsets."""

from edgec.memory.aliasing import Alias, node_alias
from edgec.memory.planner import MemoryPlan, check_plan, plan_memory
from edgec.memory.schedule import choose_schedule

__all__ = ["Alias", "MemoryPlan", "check_plan", "choose_schedule", "node_alias", "plan_memory"]
