"""Metrics: one module per chapter, pure functions of the marts, plus shared statistics."""
