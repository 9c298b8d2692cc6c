"""``seas report``: a static, self-contained HTML report built only from a run folder's files."""
