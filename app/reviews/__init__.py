"""Merit review: screening, conflicts, assignment, scoring and ranking."""
