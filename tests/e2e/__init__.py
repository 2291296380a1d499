# A package, so this directory's conftest imports as ``e2e.conftest`` and never shadows the
# top-level ``tests/conftest.py`` (other tests do ``from conftest import ...``).
