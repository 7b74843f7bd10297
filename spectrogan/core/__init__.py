"""What every part uses: errors, atomic writes, processes, command-line helpers, the
project's folders, and how strength scales a learned change."""
