"""Message in, outcome out. Knows no area package and no database (DESIGN.md, layer rules)."""
