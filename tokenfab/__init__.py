"""tokenfab: design, generate, verify, simulate and cost accelerators for low-bit LLM
inference."""
from tokenfab.api import Design, design, designs
from tokenfab.errors import ToolError, UsageError

__all__ = ["Design", "design", "designs", "UsageError", "ToolError"]
__version__ = "0.1.0"
