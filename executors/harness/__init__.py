"""The code that runs inside the sandbox: the checker (a warm worker) and the runners it forks.

This package is bound read-only into the sandbox as a top-level package, so it imports only itself
(relative imports), the standard library, numpy and torch. Nothing here may import gradeflow. The one
other code it runs is the exam's task module (`_registry.load_tasks`), written against `api`.
"""
