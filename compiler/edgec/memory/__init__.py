"""Static memory planning: arena offsets for every activation tensor."""

from edgec.memory.planner import MemoryPlan, plan_memory

__all__ = ["MemoryPlan", "plan_memory"]
